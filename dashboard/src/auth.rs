//! Who may read the dashboard over HTTP. It serves every container's
//! record — args, environment-derived errors, annotations, paths — so by
//! default it listens on loopback only (main.rs refuses anything else
//! without `--public`). With a token (`--token T`, or generated for a
//! public address), every request must carry it, or gets 401:
//! - `Authorization: Bearer T` (curl, Prometheus' `authorization` setting);
//! - or `?token=T` in the URL, for a browser's first visit: the answer sets
//!   a cookie (HttpOnly, SameSite=Strict) so the page's own requests and its
//!   event stream carry it from then on;
//! - or that cookie.
//!
//! Tokens are compared in constant time, so the time a refusal takes does
//! not tell how much of a guess was right.

use std::io::Read;
use std::sync::Arc;

use axum::extract::{Request, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::Router;

pub const COOKIE: &str = "glassbox_token";

#[derive(Debug, thiserror::Error)]
pub enum AuthError {
    #[error("--token: empty; pass a non-empty token, or none to have one generated")]
    Empty,
    #[error("/dev/urandom: {0}: cannot generate a token; pass --token T")]
    Random(std::io::Error),
}

/// The secret every request must show.
#[derive(Clone, PartialEq, Eq)]
pub struct Token(String);

impl std::fmt::Debug for Token {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Token(…)")
    }
}

impl Token {
    pub fn given(text: &str) -> Result<Token, AuthError> {
        if text.is_empty() {
            return Err(AuthError::Empty);
        }
        Ok(Token(text.to_string()))
    }

    /// 32 random bytes from the kernel's CSPRNG, as 64 hex digits.
    pub fn generate() -> Result<Token, AuthError> {
        let mut bytes = [0u8; 32];
        std::fs::File::open("/dev/urandom").and_then(|mut f| f.read_exact(&mut bytes)).map_err(AuthError::Random)?;
        Ok(Token(bytes.iter().map(|b| format!("{b:02x}")).collect()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Same length and same bytes, looking at every byte whatever differs.
    fn matches(&self, shown: &str) -> bool {
        let (a, b) = (self.0.as_bytes(), shown.as_bytes());
        a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
    }
}

/// `router`, with every route behind `token` when there is one.
pub fn protect(router: Router, token: Option<Token>) -> Router {
    match token {
        Some(token) => router.layer(middleware::from_fn_with_state(Arc::new(token), check)),
        None => router,
    }
}

/// How the request showed the token, if it did.
#[derive(Debug, PartialEq)]
enum Shown {
    Header,
    Cookie,
    Query,
}

fn shown(token: &Token, request: &Request) -> Option<Shown> {
    let headers = request.headers();
    let bearer =
        headers.get(header::AUTHORIZATION).and_then(|v| v.to_str().ok()).and_then(|v| v.strip_prefix("Bearer "));
    if bearer.is_some_and(|b| token.matches(b.trim())) {
        return Some(Shown::Header);
    }
    let cookies = headers.get_all(header::COOKIE).iter().filter_map(|v| v.to_str().ok());
    let mut pairs = cookies.flat_map(|c| c.split(';')).filter_map(|p| p.trim().split_once('='));
    if pairs.any(|(name, value)| name == COOKIE && token.matches(value)) {
        return Some(Shown::Cookie);
    }
    let query = request.uri().query().unwrap_or("");
    let mut params = query.split('&').filter_map(|p| p.split_once('='));
    if params.any(|(name, value)| name == "token" && token.matches(&percent_decode(value))) {
        return Some(Shown::Query);
    }
    None
}

async fn check(State(token): State<Arc<Token>>, request: Request, next: Next) -> Response {
    match shown(&token, &request) {
        None => (
            StatusCode::UNAUTHORIZED,
            [(header::WWW_AUTHENTICATE, "Bearer realm=\"glassbox dashboard\"")],
            "401: this dashboard needs its token: `Authorization: Bearer TOKEN`, or ?token=TOKEN in the URL \
             (the token was given with --token, or printed by glassbox dashboard when it started)\n",
        )
            .into_response(),
        Some(how) => {
            let mut response = next.run(request).await;
            if how == Shown::Query {
                let cookie = format!("{COOKIE}={}; Path=/; HttpOnly; SameSite=Strict", token.as_str());
                if let Ok(value) = HeaderValue::from_str(&cookie) {
                    response.headers_mut().append(header::SET_COOKIE, value);
                }
            }
            response
        }
    }
}

/// `%XX` escapes and `+` of a URL query value.
fn percent_decode(value: &str) -> String {
    let bytes = value.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = |b: u8| (b as char).to_digit(16);
        match bytes[i] {
            b'%' if i + 2 < bytes.len() && hex(bytes[i + 1]).is_some() && hex(bytes[i + 2]).is_some() => {
                out.push((hex(bytes[i + 1]).unwrap_or(0) * 16 + hex(bytes[i + 2]).unwrap_or(0)) as u8);
                i += 3;
            }
            b'+' => {
                out.push(b' ');
                i += 1;
            }
            b => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::body::Body;
    use tower::ServiceExt;

    async fn status(router: &Router, request: axum::http::request::Builder) -> (StatusCode, Option<String>) {
        let response = router.clone().oneshot(request.body(Body::empty()).unwrap()).await.unwrap();
        let cookie = response.headers().get(header::SET_COOKIE).map(|v| v.to_str().unwrap().to_string());
        (response.status(), cookie)
    }

    #[tokio::test]
    async fn without_the_token_every_route_is_401_and_with_it_200() {
        let token = Token::given("s3cret/+").unwrap();
        let router = protect(crate::api::router(crate::Shared::new()), Some(token));
        let get = |uri: &str| axum::http::Request::get(uri.to_string());
        for uri in ["/api/containers", "/metrics", "/api/containers/x/cgroup", "/nothing"] {
            assert_eq!(status(&router, get(uri)).await.0, StatusCode::UNAUTHORIZED, "{uri}");
        }
        assert_eq!(
            status(&router, get("/metrics").header("Authorization", "Bearer wrong")).await.0,
            StatusCode::UNAUTHORIZED
        );
        assert_eq!(
            status(&router, get("/metrics?token=s3cret")).await.0,
            StatusCode::UNAUTHORIZED,
            "a prefix is not the token"
        );
        assert_eq!(
            status(&router, get("/metrics").header("Authorization", "Bearer s3cret/+")).await,
            (StatusCode::OK, None)
        );
        let (code, cookie) = status(&router, get("/api/containers?token=s3cret%2F%2B")).await;
        assert_eq!(code, StatusCode::OK);
        let cookie = cookie.expect("a first visit by URL sets the cookie");
        assert!(cookie.contains("HttpOnly") && cookie.contains("SameSite=Strict"), "{cookie}");
        let pair = cookie.split(';').next().unwrap().to_string();
        assert_eq!(status(&router, get("/metrics").header("Cookie", format!("a=b; {pair}"))).await.0, StatusCode::OK);
        assert_eq!(
            status(&router, get("/metrics").header("Cookie", "glassbox_token=no")).await.0,
            StatusCode::UNAUTHORIZED
        );

        // No token: open (loopback only, which main.rs sees to).
        let open = protect(crate::api::router(crate::Shared::new()), None);
        assert_eq!(status(&open, get("/metrics")).await.0, StatusCode::OK);
    }

    #[test]
    fn generated_tokens_are_long_random_and_empty_ones_refused() {
        let (a, b) = (Token::generate().unwrap(), Token::generate().unwrap());
        assert_eq!(a.as_str().len(), 64);
        assert_ne!(a, b);
        assert!(matches!(Token::given(""), Err(AuthError::Empty)));
        assert_eq!(format!("{a:?}"), "Token(…)", "a token is never printed by Debug");
    }
}
