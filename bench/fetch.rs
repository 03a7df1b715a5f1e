//! The download client of `bench/storage.sh`: one HTTP/1.1 `GET` whose body is read from the
//! socket and written to a file in 1 MiB steps, then flushed to disk.
//!
//!     cargo build --release --example bench-fetch
//!     target/release/examples/bench-fetch http://127.0.0.1:PORT/storage/v1/object/B/NAME TOKEN OUT
//!
//! curl 7.88 hands its output 16 KiB at a time; copying a local 100 MB file with `curl file://`
//! takes it twice as long as `cp` on these machines, with no server involved. This client moves
//! data in the same block size as `cp`, so the figure measures the server. Only what the benchmark
//! needs: plain `http://`, a `Content-Length` body, status 200.

use std::{
    fs::File,
    io::{BufRead, BufReader, Read, Write},
    net::TcpStream,
    process::ExitCode,
};

const STEP: usize = 1 << 20;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [url, token, out] = args.as_slice() else {
        eprintln!("usage: bench-fetch URL TOKEN OUT");
        return ExitCode::from(2);
    };
    match fetch(url, token, out) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("bench-fetch: {e}");
            ExitCode::FAILURE
        }
    }
}

fn fetch(url: &str, token: &str, out: &str) -> Result<(), String> {
    let rest = url
        .strip_prefix("http://")
        .ok_or("only http:// URLs are supported")?;
    let (host, path) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
    let mut socket = TcpStream::connect(host).map_err(|e| format!("connect {host}: {e}"))?;
    write!(
        socket,
        "GET {path} HTTP/1.1\r\nHost: {host}\r\napikey: {token}\r\nAuthorization: Bearer {token}\r\n\
         Connection: close\r\n\r\n"
    )
    .map_err(|e| e.to_string())?;
    let mut reader = BufReader::with_capacity(STEP, socket);
    let mut line = String::new();
    reader.read_line(&mut line).map_err(|e| e.to_string())?;
    if line.split_whitespace().nth(1) != Some("200") {
        return Err(format!("unexpected status line: {}", line.trim_end()));
    }
    let mut length = None;
    loop {
        line.clear();
        reader.read_line(&mut line).map_err(|e| e.to_string())?;
        let header = line.trim_end();
        if header.is_empty() {
            break;
        }
        if let Some((name, value)) = header.split_once(':')
            && name.eq_ignore_ascii_case("content-length")
        {
            length = value.trim().parse::<u64>().ok();
        }
    }
    let mut left = length.ok_or("the response has no Content-Length")?;
    let mut file = File::create(out).map_err(|e| format!("{out}: {e}"))?;
    let mut buf = vec![0_u8; STEP];
    while left > 0 {
        let want = usize::try_from(left.min(STEP as u64)).unwrap_or(STEP);
        let n = reader.read(&mut buf[..want]).map_err(|e| e.to_string())?;
        if n == 0 {
            return Err(format!("connection closed with {left} bytes missing"));
        }
        file.write_all(&buf[..n]).map_err(|e| e.to_string())?;
        left -= n as u64;
    }
    file.sync_all().map_err(|e| e.to_string())
}
