//! The state store: which apps are deployed, with which UIDs and host ports, and how each
//! deployment went. One SQLite file (bundled; no server), migrated by `user_version`.
//!
//! Allocation runs in an IMMEDIATE transaction, so two `deploy` processes at once take
//! turns and never get the same UID block or port.

use std::path::Path;
use std::time::Duration;

use rusqlite::{Connection, OptionalExtension, TransactionBehavior, params};

use crate::error::{Error, Result};

/// UIDs (and GIDs) berth hands out: blocks of `BLOCK`, one per app, a UID per service.
pub const UID_FIRST: u32 = 50_000;
pub const UID_LAST: u32 = 59_999;
pub const BLOCK: u32 = 32;
/// Host ports for web apps' loopback ports (nginx proxies to them).
pub const PORT_FIRST: u16 = 18_100;
pub const PORT_LAST: u16 = 18_999;

const MIGRATIONS: &[&str] = &[
    // 1: apps, their services and deployments.
    "CREATE TABLE apps (
        name TEXT PRIMARY KEY,
        app TEXT NOT NULL,
        uid_base INTEGER NOT NULL UNIQUE,
        port INTEGER UNIQUE,
        dir TEXT NOT NULL,
        status TEXT NOT NULL,
        updated_at INTEGER NOT NULL
     );
     CREATE TABLE services (
        app_name TEXT NOT NULL REFERENCES apps(name) ON DELETE CASCADE,
        service TEXT NOT NULL,
        uid INTEGER NOT NULL,
        gid INTEGER NOT NULL,
        image TEXT NOT NULL,
        ports TEXT NOT NULL,
        PRIMARY KEY (app_name, service)
     );
     CREATE TABLE deployments (
        id INTEGER PRIMARY KEY,
        app_name TEXT NOT NULL,
        started_at INTEGER NOT NULL,
        finished_at INTEGER,
        outcome TEXT,
        detail TEXT
     );",
];

fn db_error(path: &Path, e: rusqlite::Error) -> Error {
    Error::io(path, std::io::Error::other(e.to_string()))
}

/// What an app needs allocated.
#[derive(Debug, Clone, Copy)]
pub struct Wanted<'a> {
    pub name: &'a str,
    pub app: &'a str,
    /// Its directory (recorded, for ls and remove).
    pub dir: &'a str,
    /// One UID each.
    pub services: u32,
    /// A loopback host port for nginx to proxy to.
    pub wants_port: bool,
}

pub struct State {
    conn: Connection,
    path: std::path::PathBuf,
}

#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct AppRow {
    pub name: String,
    pub app: String,
    pub uid_base: u32,
    pub port: Option<u16>,
    pub dir: String,
    pub status: String,
    pub updated_at: i64,
}

impl State {
    /// Opens (creating and migrating) the store at `path`; the file is the owner's only.
    pub fn open(path: &Path) -> Result<State> {
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
        }
        let conn = Connection::open(path).map_err(|e| db_error(path, e))?;
        {
            use std::os::unix::fs::PermissionsExt;
            let _ = std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600));
        }
        conn.busy_timeout(Duration::from_secs(30))
            .map_err(|e| db_error(path, e))?;
        conn.pragma_update(None, "journal_mode", "WAL")
            .map_err(|e| db_error(path, e))?;
        let mut state = State {
            conn,
            path: path.to_path_buf(),
        };
        state.migrate()?;
        Ok(state)
    }

    fn migrate(&mut self) -> Result<()> {
        let path = self.path.clone();
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(|e| db_error(&path, e))?;
        let version: i64 = tx
            .pragma_query_value(None, "user_version", |r| r.get(0))
            .map_err(|e| db_error(&path, e))?;
        let version = usize::try_from(version).unwrap_or(usize::MAX);
        if version > MIGRATIONS.len() {
            return Err(Error::input(format!(
                "{}: written by a newer berth (schema {version}); upgrade berth",
                path.display()
            )));
        }
        for (i, sql) in MIGRATIONS.iter().enumerate().skip(version) {
            tx.execute_batch(sql).map_err(|e| db_error(&path, e))?;
            tx.pragma_update(None, "user_version", (i + 1) as i64)
                .map_err(|e| db_error(&path, e))?;
        }
        tx.commit().map_err(|e| db_error(&path, e))
    }

    /// The app's UID block and port: the ones it has, or new ones. `uid_taken(uid)` says
    /// whether the host already has that UID for someone else; such blocks are skipped.
    pub fn allocate(
        &mut self,
        want: &Wanted,
        uid_taken: &dyn Fn(u32) -> bool,
        now: i64,
    ) -> Result<AppRow> {
        let Wanted {
            name,
            app,
            dir,
            services,
            wants_port,
        } = *want;
        let path = self.path.clone();
        if services > BLOCK {
            return Err(Error::input(format!(
                "{app} has {services} services; berth allocates at most {BLOCK} UIDs per app"
            )));
        }
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(|e| db_error(&path, e))?;
        if let Some(row) = get(&tx, name).map_err(|e| db_error(&path, e))? {
            if row.app != app {
                return Err(Error::input(format!(
                    "an app named {name} is already deployed from {}; remove it first or choose another name",
                    row.app
                )));
            }
            return Ok(row);
        }
        let used_bases: Vec<u32> =
            query_column(&tx, "SELECT uid_base FROM apps").map_err(|e| db_error(&path, e))?;
        let uid_base = (UID_FIRST..=UID_LAST - BLOCK + 1)
            .step_by(BLOCK as usize)
            .find(|base| !used_bases.contains(base) && !(*base..base + services).any(uid_taken))
            .ok_or_else(|| {
                Error::input("no free UID block left in 50000-59999; remove unused apps")
            })?;
        let port = if wants_port {
            let used: Vec<u32> = query_column(&tx, "SELECT port FROM apps WHERE port IS NOT NULL")
                .map_err(|e| db_error(&path, e))?;
            Some(
                (PORT_FIRST..=PORT_LAST)
                    .find(|p| !used.contains(&u32::from(*p)))
                    .ok_or_else(|| Error::input("no free host port left in 18100-18999"))?,
            )
        } else {
            None
        };
        tx.execute(
            "INSERT INTO apps (name, app, uid_base, port, dir, status, updated_at) VALUES (?1, ?2, ?3, ?4, ?5, 'allocated', ?6)",
            params![name, app, uid_base, port, dir, now],
        )
        .map_err(|e| db_error(&path, e))?;
        let row = get(&tx, name).map_err(|e| db_error(&path, e))?;
        tx.commit().map_err(|e| db_error(&path, e))?;
        row.ok_or_else(|| Error::input("allocation vanished"))
    }

    /// Records the services of a render (replacing the previous record).
    pub fn record_services(&mut self, name: &str, manifest: &crate::plan::Manifest) -> Result<()> {
        let path = self.path.clone();
        let tx = self.conn.transaction().map_err(|e| db_error(&path, e))?;
        tx.execute("DELETE FROM services WHERE app_name = ?1", params![name])
            .map_err(|e| db_error(&path, e))?;
        for (service, r) in &manifest.services {
            let ports: Vec<String> = r.ports.iter().map(ToString::to_string).collect();
            tx.execute(
                "INSERT INTO services (app_name, service, uid, gid, image, ports) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                params![name, service, r.uid, r.gid, r.image, ports.join(" ")],
            )
            .map_err(|e| db_error(&path, e))?;
        }
        tx.commit().map_err(|e| db_error(&path, e))
    }

    /// (service, uid, image, ports) of an app.
    pub fn services(&self, name: &str) -> Result<Vec<(String, u32, String, String)>> {
        let mut stmt = self
            .conn
            .prepare("SELECT service, uid, image, ports FROM services WHERE app_name = ?1 ORDER BY service")
            .map_err(|e| db_error(&self.path, e))?;
        let rows = stmt
            .query_map(params![name], |r| {
                Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?))
            })
            .map_err(|e| db_error(&self.path, e))?
            .collect::<rusqlite::Result<Vec<_>>>()
            .map_err(|e| db_error(&self.path, e))?;
        Ok(rows)
    }

    pub fn set_status(&self, name: &str, status: &str, now: i64) -> Result<()> {
        self.conn
            .execute(
                "UPDATE apps SET status = ?2, updated_at = ?3 WHERE name = ?1",
                params![name, status, now],
            )
            .map(|_| ())
            .map_err(|e| db_error(&self.path, e))
    }

    pub fn start_deployment(&self, name: &str, now: i64) -> Result<i64> {
        self.conn
            .execute(
                "INSERT INTO deployments (app_name, started_at) VALUES (?1, ?2)",
                params![name, now],
            )
            .map_err(|e| db_error(&self.path, e))?;
        Ok(self.conn.last_insert_rowid())
    }

    pub fn finish_deployment(&self, id: i64, outcome: &str, detail: &str, now: i64) -> Result<()> {
        self.conn
            .execute(
                "UPDATE deployments SET finished_at = ?2, outcome = ?3, detail = ?4 WHERE id = ?1",
                params![id, now, outcome, detail],
            )
            .map(|_| ())
            .map_err(|e| db_error(&self.path, e))
    }

    pub fn app(&self, name: &str) -> Result<Option<AppRow>> {
        get(&self.conn, name).map_err(|e| db_error(&self.path, e))
    }

    pub fn apps(&self) -> Result<Vec<AppRow>> {
        let mut stmt = self
            .conn
            .prepare(
                "SELECT name, app, uid_base, port, dir, status, updated_at FROM apps ORDER BY name",
            )
            .map_err(|e| db_error(&self.path, e))?;
        let rows = stmt
            .query_map([], row)
            .map_err(|e| db_error(&self.path, e))?
            .collect::<rusqlite::Result<Vec<_>>>()
            .map_err(|e| db_error(&self.path, e))?;
        Ok(rows)
    }

    /// Forgets an app: its UIDs and port are free again.
    pub fn release(&self, name: &str) -> Result<()> {
        self.conn
            .execute("DELETE FROM services WHERE app_name = ?1", params![name])
            .map_err(|e| db_error(&self.path, e))?;
        self.conn
            .execute("DELETE FROM apps WHERE name = ?1", params![name])
            .map(|_| ())
            .map_err(|e| db_error(&self.path, e))
    }
}

fn row(r: &rusqlite::Row) -> rusqlite::Result<AppRow> {
    Ok(AppRow {
        name: r.get(0)?,
        app: r.get(1)?,
        uid_base: r.get(2)?,
        port: r.get(3)?,
        dir: r.get(4)?,
        status: r.get(5)?,
        updated_at: r.get(6)?,
    })
}

fn get(conn: &Connection, name: &str) -> rusqlite::Result<Option<AppRow>> {
    conn.query_row(
        "SELECT name, app, uid_base, port, dir, status, updated_at FROM apps WHERE name = ?1",
        params![name],
        row,
    )
    .optional()
}

fn query_column(conn: &Connection, sql: &str) -> rusqlite::Result<Vec<u32>> {
    let mut stmt = conn.prepare(sql)?;
    let rows = stmt.query_map([], |r| r.get::<_, u32>(0))?;
    rows.collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn none(_: u32) -> bool {
        false
    }

    fn want<'a>(name: &'a str, app: &'a str, services: u32, wants_port: bool) -> Wanted<'a> {
        Wanted {
            name,
            app,
            dir: "/apps",
            services,
            wants_port,
        }
    }

    #[test]
    fn allocates_blocks_and_ports_and_keeps_them() {
        let dir = tempfile::tempdir().unwrap();
        let mut s = State::open(&dir.path().join("state.db")).unwrap();
        let a = s
            .allocate(&want("a", "nextcloud", 3, true), &none, 1)
            .unwrap();
        let b = s
            .allocate(&want("b", "postgres", 1, false), &none, 1)
            .unwrap();
        assert_eq!((a.uid_base, a.port), (UID_FIRST, Some(PORT_FIRST)));
        assert_eq!((b.uid_base, b.port), (UID_FIRST + BLOCK, None));
        assert_eq!(
            s.allocate(&want("a", "nextcloud", 3, true), &none, 2)
                .unwrap(),
            a
        );
        assert!(s.allocate(&want("a", "redis", 1, false), &none, 2).is_err());
        s.release("a").unwrap();
        let c = s
            .allocate(
                &Wanted {
                    name: "c",
                    app: "umami",
                    dir: "/x/c",
                    services: 2,
                    wants_port: true,
                },
                &none,
                3,
            )
            .unwrap();
        assert_eq!(
            (c.uid_base, c.port),
            (UID_FIRST, Some(PORT_FIRST)),
            "freed block and port are reused"
        );
        // A block with a UID the host already uses for someone else is skipped.
        let d = s
            .allocate(
                &want("d", "umami", 2, true),
                &|uid| uid == UID_FIRST + 2 * BLOCK + 1,
                3,
            )
            .unwrap();
        assert_eq!(d.uid_base, UID_FIRST + 3 * BLOCK);
        let mode = std::fs::metadata(dir.path().join("state.db")).unwrap();
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(mode.permissions().mode() & 0o777, 0o600);
    }

    #[test]
    fn concurrent_allocations_never_collide() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("state.db");
        State::open(&path).unwrap();
        let handles: Vec<_> = (0..8)
            .map(|i| {
                let path = path.clone();
                std::thread::spawn(move || {
                    let mut s = State::open(&path).unwrap();
                    s.allocate(&want(&format!("app{i}"), "x", 4, true), &none, 0)
                        .unwrap()
                })
            })
            .collect();
        let rows: Vec<AppRow> = handles.into_iter().map(|h| h.join().unwrap()).collect();
        let mut uids: Vec<u32> = rows.iter().map(|r| r.uid_base).collect();
        let mut ports: Vec<u16> = rows.iter().filter_map(|r| r.port).collect();
        uids.sort_unstable();
        uids.dedup();
        ports.sort_unstable();
        ports.dedup();
        assert_eq!((uids.len(), ports.len()), (8, 8));
    }

    #[test]
    fn refuses_a_newer_schema() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("state.db");
        State::open(&path).unwrap();
        let conn = Connection::open(&path).unwrap();
        conn.pragma_update(None, "user_version", 99).unwrap();
        drop(conn);
        assert!(State::open(&path).is_err());
    }
}
