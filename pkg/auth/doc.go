// Package auth decides who may deliver a webhook to dtbridge.
//
// DoubleTick signs nothing; it can only send static credentials, and its UI
// only lets a user paste a URL. So an [Authenticator] accepts, in any
// combination configured in [Config]:
//
//   - a shared token in the URL query (?token=…), which works on its own;
//   - the same tokens as "Authorization: Bearer <token>" (scheme name is
//     case-insensitive) or in a custom header such as X-Dtbridge-Token;
//   - "Authorization: Basic" user:password pairs.
//
// Several tokens may be valid at once so they can be rotated. Every secret is
// compared in constant time on SHA-256 digests (no length leak), against all
// configured secrets without an early exit; digests of the configured secrets
// are computed once in [New]. An empty presented secret never matches.
//
// An optional source-address allow-list ([Config.AllowCIDRs]) is checked
// before credentials. X-Forwarded-For is honoured only when the TCP peer is a
// trusted proxy ([Config.TrustedProxies]); see [Authenticator.ClientIP].
//
// Failure modes: [Authenticator.Check] returns [ErrForbidden] when the source
// address is not allowed and [ErrUnauthenticated] when credentials are
// missing or wrong; the HTTP layer maps them to 403 and 401. [New] fails when
// no credentials are configured and [Config.Disabled] is false. Disabled skips
// the credential check but never the address check.
//
// [LoadOrCreateToken] keeps a generated token in "<dir>/auth.token" (mode
// 0600). It refuses to use an existing file that grants any permission to
// group or other rather than silently changing its mode.
//
// Nothing here logs. Callers must not log the query string (it may carry
// the token) nor the Authorization or custom token header; the ingress logs
// only the path and route.
//
// This package imports only the standard library. It must never import Echo,
// NATS or any other transport or broker package.
package auth
