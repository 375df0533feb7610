// Package payload reads a webhook delivery body, bounded, and turns it into a
// JSON object.
//
// [Read] owns the request body: it enforces [Limits.MaxBody] on the bytes
// actually read (whatever Content-Length says, chunked or not; a declared
// Content-Length above the limit is rejected without reading) and never
// buffers more than MaxBody+1 bytes. The result keeps the bytes exactly as
// received ([Body.Raw]) next to a JSON object form ([Body.JSON]):
//
//   - application/x-www-form-urlencoded and multipart/form-data are converted
//     to a JSON object with sorted keys: one value becomes a string, a
//     repeated key an array, and a multipart file part an object
//     {"filename","contentType","size","base64"}. Bracketed keys such as
//     a[b]=1 are kept flat, as sent: DoubleTick's FORM_DATA encoding is
//     undocumented, so no nesting convention is guessed. Multipart bodies may
//     have at most [Limits.MaxParts] parts. The converted JSON is never larger
//     than MaxBody, so base64 makes a file part of more than about 3/4 of
//     MaxBody too large. A file name is reduced to its last path element.
//   - Anything else (DoubleTick's Content-Type is undocumented) is accepted if
//     the body is valid JSON, whatever the Content-Type says. It must be valid
//     UTF-8 (RFC 8259 §8.1) with an object at the top level; it is validated
//     with jsonscan.Valid (encoding/json.Valid's grammar in one pass), never
//     unmarshalled.
//     A Content-Type that mime.ParseMediaType cannot parse is treated as
//     absent ([Body.MediaType] is ""), except that a non-JSON body under it is
//     malformed ("invalid Content-Type"); bad parameters alone are ignored.
//
// Defaults: a zero or negative MaxBody means [DefaultMaxBody] (1 MiB); a zero
// or negative MaxParts means [DefaultMaxParts] (64).
//
// Failure modes, mapped to HTTP status codes by the HTTP layer:
//   - [ErrTooLarge] (413): body, part count or converted JSON over the limit.
//     Raw is nil when the body itself was over the limit.
//   - [ErrUnsupportedMediaType] (415): a Content-Encoding other than identity,
//     or a non-JSON body under a media type that is neither JSON nor a form.
//     Raw is filled.
//   - [*MalformedError] (400): empty body, invalid JSON under a JSON media
//     type or with no Content-Type, a non-object top level, invalid UTF-8, a
//     broken form or multipart body. Raw is filled; Reason is a short message
//     safe to return to the client.
//   - Any other error is an I/O error reading the body (e.g. the client went
//     away); Raw is nil.
//
// This package imports only the standard library. It must never import Echo,
// NATS or any other transport or broker package.
package payload
