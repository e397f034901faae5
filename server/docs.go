package server

import (
	"bytes"
	_ "embed"
	"encoding/json"
	"fmt"
	"html/template"
	"sort"
	"strings"
)

//go:embed static/index.html
var indexHTML []byte

//go:embed static/openapi.json
var openapiJSON []byte

// The /docs page is rendered once, at start-up, from openapi.json, so the
// two cannot disagree.

type docOperation struct {
	Method, Path, Summary, Description string
	Auth                               bool
	Request                            *docSchema
	Responses                          []docResponse
}

type docResponse struct{ Code, Description, Schema string }

type docSchema struct {
	Name    string
	Fields  []docField
	Example string
}

type docField struct{ Name, Type, Description, Required string }

type openapiDoc struct {
	Info struct {
		Title, Version, Description string
	}
	Paths      map[string]map[string]openapiOp
	Components struct {
		Schemas   map[string]openapiSchema
		Responses map[string]openapiResponse
	}
}

type openapiOp struct {
	Summary, Description string
	Security             []map[string][]string
	RequestBody          *struct {
		Content map[string]struct{ Schema openapiSchema }
	}
	Responses map[string]openapiResponse
}

type openapiResponse struct {
	Ref         string `json:"$ref"`
	Description string
	Content     map[string]struct{ Schema openapiSchema }
}

type openapiSchema struct {
	Ref                  string `json:"$ref"`
	Type                 string
	Description          string
	Required             []string
	Properties           map[string]openapiSchema
	Items                *openapiSchema
	AdditionalProperties any
	Enum                 []string
	Example              any
	OneOf                []openapiSchema
}

// ref is the schema's $ref, or its first alternative's (the native shape
// comes first where /predict also takes another).
func (s openapiSchema) ref() string {
	if s.Ref == "" && len(s.OneOf) > 0 {
		return s.OneOf[0].Ref
	}
	return s.Ref
}

func refName(ref string) string { return ref[strings.LastIndexByte(ref, '/')+1:] }

func (s openapiSchema) typeName() string {
	switch {
	case s.Ref != "":
		return refName(s.Ref)
	case s.Type == "array" && s.Items != nil:
		return "array of " + s.Items.typeName()
	case s.Type == "object" && s.AdditionalProperties != nil:
		return "object (map)"
	}
	return s.Type
}

func schemaDoc(name string, s openapiSchema) *docSchema {
	d := &docSchema{Name: name}
	req := map[string]bool{}
	for _, r := range s.Required {
		req[r] = true
	}
	names := make([]string, 0, len(s.Properties))
	for n := range s.Properties {
		names = append(names, n)
	}
	sort.Slice(names, func(i, j int) bool {
		if req[names[i]] != req[names[j]] {
			return req[names[i]]
		}
		return names[i] < names[j]
	})
	for _, n := range names {
		p := s.Properties[n]
		f := docField{Name: n, Type: p.typeName(), Description: p.Description}
		if len(p.Enum) > 0 {
			f.Description = strings.TrimSpace(f.Description + " One of: " + strings.Join(p.Enum, ", ") + ".")
		}
		if req[n] {
			f.Required = "required"
		}
		d.Fields = append(d.Fields, f)
		if p.Type == "object" && len(p.Properties) > 0 { // nested object: its fields as n.field
			for _, sub := range schemaDoc("", p).Fields {
				sub.Name = n + "." + sub.Name
				d.Fields = append(d.Fields, sub)
			}
		}
	}
	if s.Example != nil {
		b, _ := json.MarshalIndent(s.Example, "", "  ")
		d.Example = string(b)
	}
	return d
}

var docsTemplate = template.Must(template.New("docs").Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>{{.Title}} — API reference</title>
<style>
body{font:15px/1.5 system-ui,-apple-system,"Segoe UI",sans-serif;max-width:60rem;margin:2rem auto;padding:0 1rem;color:#1d2330}
h1{font-size:1.6rem;margin-bottom:.2rem}h2{margin-top:2.2rem;border-bottom:1px solid #dde2ea;padding-bottom:.3rem}
h3{margin:1.6rem 0 .3rem;font-size:1.05rem}code,pre{font:13px/1.45 ui-monospace,Menlo,Consolas,monospace}
pre{background:#f4f6fa;border:1px solid #e3e7ee;border-radius:6px;padding:.7rem;overflow:auto}
table{border-collapse:collapse;width:100%;margin:.4rem 0}td,th{border-bottom:1px solid #e8ebf0;padding:.3rem .5rem;text-align:left;vertical-align:top}
th{font-weight:600;color:#4a5366}.m{display:inline-block;min-width:3.4rem;text-transform:uppercase;text-align:center;border-radius:4px;padding:0 .3rem;font-weight:700;font-size:12px;color:#fff}
.get{background:#2f7d4f}.post{background:#2357b5}.auth{font-size:12px;color:#8a5a00;background:#fff4d6;border-radius:4px;padding:0 .35rem;margin-left:.4rem}
.muted{color:#5b6475}a{color:#2357b5}
</style></head><body>
<h1>{{.Title}}</h1><p class="muted">API version {{.Version}} · <a href="/openapi.json">openapi.json</a> · <a href="/">try it</a></p>
<p>{{.Description}}</p>
<p>When the service runs with API keys, the endpoints marked <span class="auth">key</span> need
<code>Authorization: Bearer KEY</code> or <code>X-API-Key: KEY</code>; health, readiness, info, metrics and these pages stay open.</p>
<h2>Endpoints</h2>
<table><tr><th></th><th>path</th><th>what</th></tr>
{{range .Ops}}<tr><td><span class="m {{.Method}}">{{.Method}}</span></td><td><a href="#{{.Method}}{{.Path}}"><code>{{.Path}}</code></a>{{if .Auth}}<span class="auth">key</span>{{end}}</td><td>{{.Summary}}</td></tr>
{{end}}</table>
{{range .Ops}}<h3 id="{{.Method}}{{.Path}}"><span class="m {{.Method}}">{{.Method}}</span> <code>{{.Path}}</code> — {{.Summary}}</h3>
{{if .Description}}<p>{{.Description}}</p>{{end}}
{{with .Request}}<p>Request body (<code>application/json</code>), <a href="#schema-{{.Name}}">{{.Name}}</a>:</p>{{if .Example}}<pre>{{.Example}}</pre>{{end}}{{end}}
<table><tr><th>status</th><th>meaning</th><th>body</th></tr>
{{range .Responses}}<tr><td><code>{{.Code}}</code></td><td>{{.Description}}</td><td>{{if .Schema}}<a href="#schema-{{.Schema}}">{{.Schema}}</a>{{end}}</td></tr>
{{end}}</table>
{{end}}
<h2>Schemas</h2>
{{range .Schemas}}<h3 id="schema-{{.Name}}">{{.Name}}</h3>
{{if .Fields}}<table><tr><th>field</th><th>type</th><th></th><th>description</th></tr>
{{range .Fields}}<tr><td><code>{{.Name}}</code></td><td>{{.Type}}</td><td class="muted">{{.Required}}</td><td>{{.Description}}</td></tr>
{{end}}</table>{{end}}
{{if .Example}}<pre>{{.Example}}</pre>{{end}}
{{end}}
<h2>Example</h2>
<pre>curl -s localhost:8080/predict -H 'Content-Type: application/json' -d '{"text": "a gorgeous, witty, seductive movie"}'</pre>
</body></html>
`))

// renderDocs turns the OpenAPI document into the /docs page.
func renderDocs(spec []byte) ([]byte, error) {
	var doc openapiDoc
	if err := json.Unmarshal(spec, &doc); err != nil {
		return nil, fmt.Errorf("openapi.json: %w", err)
	}
	var ops []docOperation
	paths := make([]string, 0, len(doc.Paths))
	for p := range doc.Paths {
		paths = append(paths, p)
	}
	// API endpoints first, then operations, then pages.
	rank := func(p string) int {
		switch {
		case strings.HasPrefix(p, "/predict"):
			return 0
		case p == "/" || p == "/docs" || p == "/openapi.json":
			return 2
		}
		return 1
	}
	sort.Slice(paths, func(i, j int) bool {
		if rank(paths[i]) != rank(paths[j]) {
			return rank(paths[i]) < rank(paths[j])
		}
		return paths[i] < paths[j]
	})
	for _, p := range paths {
		for _, method := range []string{"get", "post"} {
			op, ok := doc.Paths[p][method]
			if !ok {
				continue
			}
			o := docOperation{Method: method, Path: p, Summary: op.Summary, Description: op.Description, Auth: len(op.Security) > 0}
			if op.RequestBody != nil {
				if c, ok := op.RequestBody.Content["application/json"]; ok {
					name := refName(c.Schema.ref())
					o.Request = schemaDoc(name, doc.Components.Schemas[name])
				}
			}
			codes := make([]string, 0, len(op.Responses))
			for c := range op.Responses {
				codes = append(codes, c)
			}
			sort.Strings(codes)
			for _, c := range codes {
				r := op.Responses[c]
				if r.Ref != "" {
					r = doc.Components.Responses[refName(r.Ref)]
				}
				dr := docResponse{Code: c, Description: r.Description}
				for _, ct := range r.Content {
					if ref := ct.Schema.ref(); ref != "" {
						dr.Schema = refName(ref)
					}
				}
				o.Responses = append(o.Responses, dr)
			}
			ops = append(ops, o)
		}
	}
	var schemas []*docSchema
	for _, n := range []string{"PredictRequest", "BatchRequest", "Prediction", "BatchResponse", "Error", "Status",
		"TEIPredictRequest", "TEIPrediction", "TEIError", "V2InferRequest", "V2InferResponse", "V2ModelMetadata", "V2Error"} {
		if s, ok := doc.Components.Schemas[n]; ok {
			schemas = append(schemas, schemaDoc(n, s))
		}
	}
	var buf bytes.Buffer
	err := docsTemplate.Execute(&buf, map[string]any{
		"Title": doc.Info.Title, "Version": doc.Info.Version, "Description": doc.Info.Description,
		"Ops": ops, "Schemas": schemas,
	})
	return buf.Bytes(), err
}
