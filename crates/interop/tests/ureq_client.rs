//! The `ureq` HTTP client, used exactly as its docs show, from 2,000 myriad
//! threads at once against an HTTP server on myriad threads in the same
//! process. ureq blocks in std's `TcpStream` (`connect`, `recv`, `send`,
//! `poll` for its timeouts); with myriad's `intercept` feature those park
//! only the calling thread, so the server's threads keep running on the
//! same two workers.

use std::time::Duration;

mod support;

#[test]
fn two_thousand_ureq_clients_on_myriad_threads() {
    let addr = support::http_server();
    let handles: Vec<_> = (0..2_000)
        .map(|i| {
            myriad::thread::spawn(move || -> Result<String, ureq::Error> {
                let agent: ureq::Agent =
                    ureq::Agent::config_builder().timeout_global(Some(Duration::from_secs(60))).build().into();
                let body = agent.get(&format!("http://{addr}/client-{i}")).call()?.body_mut().read_to_string()?;
                Ok(body)
            })
        })
        .collect();
    for (i, h) in handles.into_iter().enumerate() {
        assert_eq!(h.join().unwrap().unwrap(), format!("hello client-{i}"));
    }
}

#[test]
fn the_default_agent_reuses_connections_from_myriad_threads() {
    let addr = support::http_server();
    let handles: Vec<_> = (0..200)
        .map(|i| {
            myriad::thread::spawn(move || {
                (0..5)
                    .map(|k| {
                        ureq::get(&format!("http://{addr}/{i}-{k}"))
                            .call()
                            .unwrap()
                            .body_mut()
                            .read_to_string()
                            .unwrap()
                    })
                    .collect::<Vec<_>>()
            })
        })
        .collect();
    for (i, h) in handles.into_iter().enumerate() {
        let bodies = h.join().unwrap();
        assert_eq!(bodies, (0..5).map(|k| format!("hello {i}-{k}")).collect::<Vec<_>>());
    }
}
