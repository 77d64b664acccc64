package main

import (
	"fmt"
	"net/http"
	"net/url"
	"strings"

	"github.com/rs/cors"
)

// corsAllowedHeaders are the request headers browsers may send cross-origin:
// what sessionhub reads (credentials, idempotency, request ids, W3C trace
// context) and what GraphQL clients add (Apollo Client's CSRF-prevention and
// client-awareness headers).
var corsAllowedHeaders = []string{
	"Content-Type", "Accept", "Authorization", "X-API-KEY", "Idempotency-Key", "X-Request-ID",
	"traceparent", "tracestate",
	"apollo-require-preflight", "x-apollo-operation-name",
	"apollographql-client-name", "apollographql-client-version",
}

// corsExposedHeaders are the response headers cross-origin scripts may read.
var corsExposedHeaders = []string{"X-Request-ID", "Retry-After"}

// corsMaxAgeSeconds is how long a browser may cache a preflight's answer.
const corsMaxAgeSeconds = 600

// newCORS returns the CORS middleware for the API routes, or a pass-through
// when no origin is allowed (the default: browsers enforce same origin).
// Credentials (cookies) are not allowed: sessionhub authenticates with
// headers, which the allowed origins may send.
func newCORS(origins []string) func(http.Handler) http.Handler {
	if len(origins) == 0 {
		return func(next http.Handler) http.Handler { return next }
	}
	c := cors.New(cors.Options{
		AllowedOrigins:   origins,
		AllowedMethods:   []string{http.MethodGet, http.MethodPost, http.MethodPatch, http.MethodDelete},
		AllowedHeaders:   corsAllowedHeaders,
		ExposedHeaders:   corsExposedHeaders,
		MaxAge:           corsMaxAgeSeconds,
		AllowCredentials: false,
	})
	return c.Handler
}

// parseOrigins reads CORS_ALLOWED_ORIGINS: "*" or origins such as
// https://app.example.com, http://localhost:3000 or https://*.example.com
// (one wildcard in the host). A path, a trailing slash or a second wildcard
// would never match what browsers send, so they stop the server instead.
func parseOrigins(name, raw string) ([]string, error) {
	origins := splitList(raw)
	for _, o := range origins {
		if o == "*" {
			continue
		}
		u, err := url.Parse(strings.Replace(o, "*", "wildcard", 1))
		switch {
		case err != nil, u.Scheme != "http" && u.Scheme != "https", u.Host == "",
			u.Path != "", u.RawQuery != "", u.Fragment != "", u.User != nil,
			strings.Count(o, "*") > 1, strings.ContainsAny(o, "?[]\\"):
			return nil, fmt.Errorf("%s: %q must be * or an origin like https://app.example.com or http://localhost:3000 (scheme, host and optional port; one * allowed in the host; no path or trailing slash)", name, o)
		}
	}
	return origins, nil
}
