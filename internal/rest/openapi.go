package rest

import (
	_ "embed"
	"net/http"
)

// openAPIDocument describes the shim; openapi_test.go keeps it true by
// validating real responses of every route against it.
//
//go:embed openapi.json
var openAPIDocument []byte

// ServeOpenAPI answers GET /openapi.json with the shim's OpenAPI 3.1 document.
func ServeOpenAPI(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	_, _ = w.Write(openAPIDocument)
}
