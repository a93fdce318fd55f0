//! Image URLs fetched and inlined as base64, for upstreams that take only image bytes (wire
//! formats that cannot reference a URL, and providers configured with `inline_images`).
//!
//! Guarded like any server-side fetch of a client-supplied URL: `http`/`https` only; the host
//! is resolved and every address checked before connecting — private, loopback, link-local,
//! shared, multicast and unspecified addresses are refused unless `allow_private` — and the
//! connection goes to exactly the addresses checked (no second lookup to rebind); redirects are
//! followed by hand, each hop checked the same way; one timeout covers the whole fetch and the
//! body is read up to a size cap. A refusal is the client's `invalid_request` error.

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use base64::Engine;
use futures_util::StreamExt;
use reqwest::Url;
use wire::WireFormat;
use wire::canonical::{Block, Image, ImageSource, Request, ToolResultContent};

use crate::error::GatewayError;

/// Redirects followed per image.
const MAX_REDIRECTS: usize = 5;

/// How image URLs are fetched (config `[translation]`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FetchPolicy {
    /// The largest image accepted, in bytes.
    pub max_bytes: usize,
    /// The whole fetch of one image, redirects included.
    pub timeout: Duration,
    /// Fetch from private, loopback and link-local addresses too (tests, local use).
    pub allow_private: bool,
}

impl Default for FetchPolicy {
    fn default() -> Self {
        Self {
            max_bytes: 20 << 20,
            timeout: Duration::from_secs(10),
            allow_private: false,
        }
    }
}

/// Whether a wire format takes image bytes only (no URL references).
pub fn needs_bytes(wire: WireFormat) -> bool {
    match wire {
        // Both fetch URLs themselves.
        WireFormat::OpenAi | WireFormat::Anthropic => false,
        // Gemini takes `inlineData` (a `fileData` URI must be a Google file), Ollama only
        // base64 images.
        WireFormat::Gemini | WireFormat::Ollama => true,
    }
}

/// Whether the request refers to any image by URL.
pub fn has_urls(req: &Request) -> bool {
    let mut found = false;
    visit(req, &mut |i| {
        found |= matches!(i.source, ImageSource::Url(_))
    });
    found
}

fn visit(req: &Request, f: &mut impl FnMut(&Image)) {
    for block in req.messages.iter().flat_map(|m| &m.content) {
        match block {
            Block::Image(i) => f(i),
            Block::ToolResult(r) => r.content.iter().for_each(|c| {
                if let ToolResultContent::Image(i) = c {
                    f(i);
                }
            }),
            _ => {}
        }
    }
}

fn visit_mut(req: &mut Request, f: &mut impl FnMut(&mut Image)) {
    for block in req.messages.iter_mut().flat_map(|m| &mut m.content) {
        match block {
            Block::Image(i) => f(i),
            Block::ToolResult(r) => r.content.iter_mut().for_each(|c| {
                if let ToolResultContent::Image(i) = c {
                    f(i);
                }
            }),
            _ => {}
        }
    }
}

/// Replaces every image URL of the request by the image's bytes (each URL fetched once).
/// Call it on the canonical request before encoding it for an upstream that needs bytes.
pub async fn inline(req: &mut Request, policy: &FetchPolicy) -> Result<(), GatewayError> {
    let mut urls = Vec::new();
    visit(req, &mut |i| {
        if let ImageSource::Url(u) = &i.source
            && !urls.contains(u)
        {
            urls.push(u.clone());
        }
    });
    let mut fetched = HashMap::with_capacity(urls.len());
    for url in urls {
        let source = match tokio::time::timeout(policy.timeout, fetch(&url, policy)).await {
            Ok(Ok(source)) => source,
            Ok(Err(why)) => return Err(refused(&url, &why)),
            Err(_) => {
                return Err(refused(
                    &url,
                    &format!("it took longer than {:?} to fetch", policy.timeout),
                ));
            }
        };
        fetched.insert(url, source);
    }
    visit_mut(req, &mut |i| {
        if let ImageSource::Url(u) = &i.source
            && let Some(source) = fetched.get(u)
        {
            i.source = source.clone();
        }
    });
    Ok(())
}

fn refused(url: &str, why: &str) -> GatewayError {
    let shown: String = url.chars().take(200).collect();
    GatewayError::InvalidRequest {
        param: "image_url".into(),
        message: format!("the image at '{shown}' cannot be used: {why}"),
    }
}

async fn fetch(url: &str, policy: &FetchPolicy) -> Result<ImageSource, String> {
    let mut url = Url::parse(url).map_err(|e| format!("not a valid URL ({e})"))?;
    for _ in 0..=MAX_REDIRECTS {
        if !matches!(url.scheme(), "http" | "https") {
            return Err(format!("the scheme '{}' is not fetched", url.scheme()));
        }
        let host = url.host_str().ok_or("the URL has no host")?.to_owned();
        let port = url.port_or_known_default().unwrap_or(80);
        let addrs = resolve(&host, port).await?;
        if !policy.allow_private
            && let Some(a) = addrs.iter().find(|a| !is_public(a.ip()))
        {
            return Err(format!(
                "its host resolves to {}, a private or local address",
                a.ip()
            ));
        }
        let mut builder = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .no_proxy()
            .timeout(policy.timeout);
        if url.domain().is_some() {
            builder = builder.resolve_to_addrs(&host, &addrs);
        }
        let client = builder.build().map_err(|e| e.to_string())?;
        let resp = client
            .get(url.clone())
            .send()
            .await
            .map_err(|e| format!("it could not be fetched ({e})"))?;
        if resp.status().is_redirection() {
            let location = resp
                .headers()
                .get(http::header::LOCATION)
                .and_then(|v| v.to_str().ok())
                .ok_or("a redirect without a location")?;
            url = url
                .join(location)
                .map_err(|e| format!("a redirect to a bad URL ({e})"))?;
            continue;
        }
        if !resp.status().is_success() {
            return Err(format!("its server answered {}", resp.status()));
        }
        return read(resp, policy.max_bytes).await;
    }
    Err(format!("more than {MAX_REDIRECTS} redirects"))
}

async fn resolve(host: &str, port: u16) -> Result<Vec<SocketAddr>, String> {
    let literal = host.trim_start_matches('[').trim_end_matches(']');
    let addrs: Vec<SocketAddr> = match literal.parse::<IpAddr>() {
        Ok(ip) => vec![SocketAddr::new(ip, port)],
        Err(_) => tokio::net::lookup_host((host, port))
            .await
            .map_err(|e| format!("its host does not resolve ({e})"))?
            .collect(),
    };
    if addrs.is_empty() {
        return Err("its host does not resolve".into());
    }
    Ok(addrs)
}

async fn read(resp: reqwest::Response, max: usize) -> Result<ImageSource, String> {
    let too_big = || format!("it is larger than {max} bytes");
    if resp.content_length().is_some_and(|n| n > max as u64) {
        return Err(too_big());
    }
    let declared = resp
        .headers()
        .get(http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .map(|v| {
            v.split(';')
                .next()
                .unwrap_or("")
                .trim()
                .to_ascii_lowercase()
        });
    let mut body = resp.bytes_stream();
    let mut bytes = Vec::new();
    while let Some(piece) = body.next().await {
        let piece = piece.map_err(|e| format!("it broke off ({e})"))?;
        if bytes.len() + piece.len() > max {
            return Err(too_big());
        }
        bytes.extend_from_slice(&piece);
    }
    let media_type = match declared {
        Some(t) if t.starts_with("image/") => t,
        _ => sniff(&bytes)
            .ok_or("it is not an image (no image content type, no known image format)")?
            .to_owned(),
    };
    Ok(ImageSource::Base64 {
        media_type,
        data: base64::engine::general_purpose::STANDARD.encode(&bytes),
    })
}

/// The type of an image from its first bytes.
fn sniff(bytes: &[u8]) -> Option<&'static str> {
    if bytes.starts_with(b"\x89PNG\r\n\x1a\n") {
        Some("image/png")
    } else if bytes.starts_with(&[0xff, 0xd8, 0xff]) {
        Some("image/jpeg")
    } else if bytes.starts_with(b"GIF87a") || bytes.starts_with(b"GIF89a") {
        Some("image/gif")
    } else if bytes.len() >= 12 && &bytes[..4] == b"RIFF" && &bytes[8..12] == b"WEBP" {
        Some("image/webp")
    } else {
        None
    }
}

/// Whether an address is on the public internet.
fn is_public(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => {
            let [a, b, ..] = v4.octets();
            !(v4.is_private()
                || v4.is_loopback()
                || v4.is_link_local()
                || v4.is_unspecified()
                || v4.is_broadcast()
                || v4.is_documentation()
                || v4.is_multicast()
                || a == 0
                // Shared address space (carrier-grade NAT), 100.64.0.0/10.
                || (a == 100 && (64..128).contains(&b))
                // Benchmarking, 198.18.0.0/15; reserved, 240.0.0.0/4.
                || (a == 198 && (b == 18 || b == 19))
                || a >= 240)
        }
        IpAddr::V6(v6) => {
            if let Some(v4) = v6.to_ipv4_mapped() {
                return is_public(IpAddr::V4(v4));
            }
            let first = v6.segments()[0];
            !(v6.is_loopback()
                || v6.is_unspecified()
                || v6.is_multicast()
                // Unique local fc00::/7, link-local fe80::/10, documentation 2001:db8::/32.
                || (first & 0xfe00) == 0xfc00
                || (first & 0xffc0) == 0xfe80
                || (first == 0x2001 && v6.segments()[1] == 0x0db8))
        }
    }
}

#[cfg(test)]
mod tests {
    #![expect(clippy::unwrap_used, reason = "tests")]

    use super::*;

    #[test]
    fn private_loopback_and_link_local_addresses_are_not_public() {
        for ip in [
            "10.1.2.3",
            "172.16.0.1",
            "192.168.1.1",
            "127.0.0.1",
            "169.254.169.254",
            "0.0.0.0",
            "100.64.0.1",
            "::1",
            "fe80::1",
            "fd00::1",
            "::ffff:127.0.0.1",
            "::ffff:169.254.169.254",
        ] {
            assert!(!is_public(ip.parse().unwrap()), "{ip}");
        }
        for ip in ["93.184.216.34", "8.8.8.8", "2606:4700::1111"] {
            assert!(is_public(ip.parse().unwrap()), "{ip}");
        }
    }

    #[test]
    fn image_types_are_recognized_from_their_bytes() {
        assert_eq!(sniff(b"\x89PNG\r\n\x1a\nrest"), Some("image/png"));
        assert_eq!(sniff(&[0xff, 0xd8, 0xff, 0xe0]), Some("image/jpeg"));
        assert_eq!(sniff(b"RIFF\0\0\0\0WEBPVP8 "), Some("image/webp"));
        assert_eq!(sniff(b"<html>"), None);
    }
}
