//! HTTP/2 and HTTP/3 abuse, in a test binary of its own so that the
//! memory each attack leaves behind (this process's RSS, which also holds
//! bellhop) is not blurred by the allocations of the many other e2e tests.

#[path = "e2e/h3_support.rs"]
mod h3_support;
#[path = "e2e/support.rs"]
mod support;
#[path = "e2e/tls_support.rs"]
mod tls_support;

#[path = "e2e/h2_abuse.rs"]
mod h2_abuse;
#[path = "e2e/h3_abuse.rs"]
mod h3_abuse;
