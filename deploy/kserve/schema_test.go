package kserve

import (
	"bytes"
	"compress/gzip"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"regexp"
	"sort"
	"strings"

	"sigs.k8s.io/yaml"
)

// The KServe API module (github.com/kserve/kserve) is not imported: its
// v1alpha1 package pulls in the storage agent and with it the GCS, S3 and
// Azure SDKs, client-go and Knative (about 1,400 packages, doubling
// deploy/go.mod), too much for two type definitions. The manifests are
// validated instead against the OpenAPI v3 schemas of KServe's own CRDs,
// vendored in testdata/, the way the API server validates a custom
// resource with fieldValidation=Strict.

// schema is the part of a CRD's structural OpenAPI v3 schema that the
// validator enforces. CEL rules (x-kubernetes-validations) and list-map
// key uniqueness are left to the API server.
type schema struct {
	Type                 string             `json:"type"`
	Properties           map[string]*schema `json:"properties"`
	AdditionalProperties json.RawMessage    `json:"additionalProperties"`
	Items                *schema            `json:"items"`
	Required             []string           `json:"required"`
	Enum                 []any              `json:"enum"`
	Pattern              string             `json:"pattern"`
	MinLength            *int               `json:"minLength"`
	MaxLength            *int               `json:"maxLength"`
	MinItems             *int               `json:"minItems"`
	Minimum              *float64           `json:"minimum"`
	Nullable             bool               `json:"nullable"`
	IntOrString          bool               `json:"x-kubernetes-int-or-string"`
	PreserveUnknown      bool               `json:"x-kubernetes-preserve-unknown-fields"`

	additional *schema // AdditionalProperties when it is a schema
	anyExtra   bool    // AdditionalProperties is true
}

// crd is a CustomResourceDefinition, only as far as the validator needs.
type crd struct {
	Spec struct {
		Group string `json:"group"`
		Names struct {
			Kind string `json:"kind"`
		} `json:"names"`
		Versions []struct {
			Name   string `json:"name"`
			Served bool   `json:"served"`
			Schema struct {
				OpenAPIV3Schema *schema `json:"openAPIV3Schema"`
			} `json:"schema"`
		} `json:"versions"`
	} `json:"spec"`
}

// loadCRD reads a gzipped CRD from testdata and returns its schema for
// apiVersion group/version, keyed "group/version Kind".
func loadCRD(path string) (map[string]*schema, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	z, err := gzip.NewReader(f)
	if err != nil {
		return nil, err
	}
	y, err := io.ReadAll(z)
	if err != nil {
		return nil, err
	}
	j, err := yaml.YAMLToJSON(y)
	if err != nil {
		return nil, err
	}
	var c crd
	if err := json.Unmarshal(j, &c); err != nil {
		return nil, err
	}
	out := map[string]*schema{}
	for _, v := range c.Spec.Versions {
		if !v.Served || v.Schema.OpenAPIV3Schema == nil {
			continue
		}
		s := v.Schema.OpenAPIV3Schema
		if err := s.prepare(); err != nil {
			return nil, fmt.Errorf("%s: %w", path, err)
		}
		out[c.Spec.Group+"/"+v.Name+" "+c.Spec.Names.Kind] = s
	}
	return out, nil
}

// prepare decodes additionalProperties (a schema or a boolean) throughout.
func (s *schema) prepare() error {
	if s == nil {
		return nil
	}
	switch a := bytes.TrimSpace(s.AdditionalProperties); {
	case len(a) == 0 || string(a) == "false":
	case string(a) == "true":
		s.anyExtra = true
	default:
		s.additional = &schema{}
		if err := json.Unmarshal(a, s.additional); err != nil {
			return err
		}
	}
	for _, p := range s.Properties {
		if err := p.prepare(); err != nil {
			return err
		}
	}
	if err := s.additional.prepare(); err != nil {
		return err
	}
	return s.Items.prepare()
}

// validate checks v (decoded with UseNumber) against s; path names the
// place in the errors. An object's field that its schema does not list is
// an error unless the schema preserves unknown fields, as with
// kubectl apply --validate=strict.
func (s *schema) validate(path string, v any) []error {
	var errs []error
	fail := func(format string, a ...any) {
		errs = append(errs, fmt.Errorf("%s: %s", path, fmt.Sprintf(format, a...)))
	}
	if v == nil {
		if !s.Nullable {
			fail("null is not allowed")
		}
		return errs
	}
	if s.IntOrString {
		switch x := v.(type) {
		case string:
		case json.Number:
			if _, err := x.Int64(); err != nil {
				fail("%v is not an integer or a string", x)
			}
		default:
			fail("%T is not an integer or a string", v)
		}
		return append(errs, s.checkString(path, v)...)
	}
	switch s.Type {
	case "object":
		m, ok := v.(map[string]any)
		if !ok {
			fail("want an object, have %T", v)
			return errs
		}
		for _, r := range s.Required {
			if _, ok := m[r]; !ok {
				fail("required field %q is missing", r)
			}
		}
		keys := make([]string, 0, len(m))
		for k := range m {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			switch p := s.Properties[k]; {
			case p != nil:
				errs = append(errs, p.validate(path+"."+k, m[k])...)
			case s.additional != nil:
				errs = append(errs, s.additional.validate(path+"."+k, m[k])...)
			case s.anyExtra || s.PreserveUnknown:
			default:
				fail("unknown field %q", k)
			}
		}
	case "array":
		a, ok := v.([]any)
		if !ok {
			fail("want an array, have %T", v)
			return errs
		}
		if s.MinItems != nil && len(a) < *s.MinItems {
			fail("%d items, at least %d", len(a), *s.MinItems)
		}
		if s.Items != nil {
			for i, x := range a {
				errs = append(errs, s.Items.validate(fmt.Sprintf("%s[%d]", path, i), x)...)
			}
		}
	case "string":
		if _, ok := v.(string); !ok {
			fail("want a string, have %T %v", v, v)
		}
		errs = append(errs, s.checkString(path, v)...)
	case "integer":
		n, ok := v.(json.Number)
		if _, err := n.Int64(); !ok || err != nil {
			fail("want an integer, have %T %v", v, v)
		} else if f, _ := n.Float64(); s.Minimum != nil && f < *s.Minimum {
			fail("%v below the minimum %v", n, *s.Minimum)
		}
	case "number":
		if _, ok := v.(json.Number); !ok {
			fail("want a number, have %T %v", v, v)
		}
	case "boolean":
		if _, ok := v.(bool); !ok {
			fail("want a boolean, have %T %v", v, v)
		}
	case "":
		// No type: only x-kubernetes-preserve-unknown-fields schemas.
	default:
		fail("schema type %q unknown to this validator", s.Type)
	}
	if len(s.Enum) > 0 {
		found := false
		for _, e := range s.Enum {
			found = found || fmt.Sprint(e) == fmt.Sprint(v)
		}
		if !found {
			fail("%v is not one of %v", v, s.Enum)
		}
	}
	return errs
}

// checkString applies pattern and length limits when v is a string.
func (s *schema) checkString(path string, v any) []error {
	str, ok := v.(string)
	if !ok {
		return nil
	}
	var errs []error
	if s.Pattern != "" {
		re, err := regexp.Compile(s.Pattern)
		if err != nil {
			return []error{fmt.Errorf("%s: pattern %q: %v", path, s.Pattern, err)}
		}
		if !re.MatchString(str) {
			errs = append(errs, fmt.Errorf("%s: %q does not match %s", path, str, s.Pattern))
		}
	}
	n := len([]rune(str))
	if (s.MinLength != nil && n < *s.MinLength) || (s.MaxLength != nil && n > *s.MaxLength) {
		errs = append(errs, fmt.Errorf("%s: %q has %d characters, outside [%v, %v]", path, str, n, s.MinLength, s.MaxLength))
	}
	return errs
}

// decodeJSON decodes j keeping numbers as json.Number, so an integer field
// given 1.5 or "8080" is told apart from 8080.
func decodeJSON(j []byte) (any, error) {
	d := json.NewDecoder(bytes.NewReader(j))
	d.UseNumber()
	var v any
	if err := d.Decode(&v); err != nil {
		return nil, err
	}
	return v, nil
}

// joinErrs formats errors one per line for a test log.
func joinErrs(errs []error) string {
	s := make([]string, len(errs))
	for i, e := range errs {
		s[i] = e.Error()
	}
	return strings.Join(s, "\n")
}
