package server

import (
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// Every error code the service answers in its own shape is listed in the
// OpenAPI document's Error schema, so that clients generated from it know
// them all.
func TestOpenAPIErrorCodesComplete(t *testing.T) {
	var spec struct {
		Components struct {
			Schemas struct {
				Error struct {
					Properties struct {
						Error struct {
							Properties struct {
								Code struct{ Enum []string }
							}
						}
					}
				}
			}
		}
	}
	if err := json.Unmarshal(openapiJSON, &spec); err != nil {
		t.Fatal(err)
	}
	listed := spec.Components.Schemas.Error.Properties.Error.Properties.Code.Enum
	// Answered only in another protocol's shape, or never sent.
	elsewhere := map[string]string{
		"invalid_input": "v2", "input_too_long": "TEI", "client_gone": "never sent",
	}
	code := regexp.MustCompile(`errorf\([A-Za-z0-9.]+, "([a-z_]+)"`)
	files, _ := filepath.Glob("*.go")
	seen := 0
	for _, f := range files {
		if strings.HasSuffix(f, "_test.go") {
			continue
		}
		src, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range code.FindAllSubmatch(src, -1) {
			seen++
			c := string(m[1])
			if _, ok := elsewhere[c]; !ok && !slices.Contains(listed, c) {
				t.Errorf("%s: error code %q is not in openapi.json's Error schema", f, c)
			}
		}
	}
	if seen < 20 {
		t.Fatalf("found only %d error codes in the sources: the pattern no longer matches them", seen)
	}
}
