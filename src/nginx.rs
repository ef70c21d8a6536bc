//! The reverse-proxy server block for an app's web port. Architecture invariant: pure.
//! Every value that reaches nginx syntax was validated before (app name, domain) or is a
//! number, so nothing here can inject a directive.

use crate::catalog::template::ProxySettings;

pub fn server_block(name: &str, domain: &str, host_port: u16, proxy: &ProxySettings) -> String {
    // The map variable carries the app name so several apps' files can share one http{}.
    let var = format!("$berth_{}_connection", name.replace('-', "_"));
    let mut out = format!(
        "# Rendered by berth for app {name}; installed by `berth host apply`.\n\
         # Proxies https://{domain} to the app's port on 127.0.0.1 only.\n"
    );
    if proxy.websockets {
        out.push_str(&format!(
            "map $http_upgrade {var} {{\n    default upgrade;\n    \"\" close;\n}}\n\n"
        ));
    }
    out.push_str(&format!(
        "server {{\n    listen 80;\n    listen [::]:80;\n    server_name {domain};\n\n\
         \x20   client_max_body_size {body};\n    server_tokens off;\n\n\
         \x20   location / {{\n        proxy_pass http://127.0.0.1:{host_port};\n\
         \x20       proxy_http_version 1.1;\n\
         \x20       proxy_set_header Host $host;\n\
         \x20       proxy_set_header X-Real-IP $remote_addr;\n\
         \x20       proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;\n\
         \x20       proxy_set_header X-Forwarded-Proto $scheme;\n\
         \x20       proxy_set_header X-Forwarded-Host $host;\n",
        body = proxy.max_body_size,
    ));
    if proxy.websockets {
        out.push_str(&format!(
            "        proxy_set_header Upgrade $http_upgrade;\n        proxy_set_header Connection {var};\n"
        ));
    }
    out.push_str(&format!(
        "        proxy_read_timeout {}s;\n        proxy_send_timeout {}s;\n    }}\n}}\n",
        proxy.read_timeout, proxy.read_timeout
    ));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn proxies_to_loopback_with_unique_map_variable() {
        let conf = server_block(
            "my-cloud",
            "cloud.example.com",
            8081,
            &ProxySettings::default(),
        );
        assert!(conf.contains("proxy_pass http://127.0.0.1:8081;"));
        assert!(conf.contains("server_name cloud.example.com;"));
        assert!(conf.contains("map $http_upgrade $berth_my_cloud_connection {"));
        assert!(conf.contains("proxy_set_header Connection $berth_my_cloud_connection;"));
    }
}
