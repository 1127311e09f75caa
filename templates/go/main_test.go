// Run with: go test ./...
package main

import (
	"net/http/httptest"
	"strings"
	"testing"
)

func TestGreetsByName(t *testing.T) {
	recorder := httptest.NewRecorder()
	handle(recorder, httptest.NewRequest("GET", "/?name=Ada", nil))
	got := strings.TrimSpace(recorder.Body.String())
	if got != `{"message":"Hello, Ada!"}` {
		t.Fatalf("unexpected body %s", got)
	}
}
