package server_test

import (
	"crypto"
	"crypto/hmac"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// Tokens are built here by hand (crypto/hmac, crypto/rsa, base64), not
// with the library the service uses, so a shared bug cannot hide.

var b64 = base64.RawURLEncoding

func jwtPart(t *testing.T, v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b64.EncodeToString(b)
}

func signHS256(t *testing.T, header, claims any, secret []byte) string {
	signing := jwtPart(t, header) + "." + jwtPart(t, claims)
	m := hmac.New(sha256.New, secret)
	m.Write([]byte(signing))
	return signing + "." + b64.EncodeToString(m.Sum(nil))
}

func signRS256(t *testing.T, claims any, key *rsa.PrivateKey) string {
	signing := jwtPart(t, map[string]string{"alg": "RS256", "typ": "JWT"}) + "." + jwtPart(t, claims)
	d := sha256.Sum256([]byte(signing))
	sig, err := rsa.SignPKCS1v15(rand.Reader, key, crypto.SHA256, d[:])
	if err != nil {
		t.Fatal(err)
	}
	return signing + "." + b64.EncodeToString(sig)
}

func TestJWT(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	secret := []byte("0123456789abcdef0123456789abcdef-hs256")
	secretFile := filepath.Join(dir, "secret")
	if err := os.WriteFile(secretFile, append(secret, '\n'), 0o600); err != nil {
		t.Fatal(err)
	}
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	other, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	der, err := x509.MarshalPKIXPublicKey(&key.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	pubPEM := pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})
	pubFile := filepath.Join(dir, "pub.pem")
	if err := os.WriteFile(pubFile, pubPEM, 0o600); err != nil {
		t.Fatal(err)
	}
	p := start(t, []string{"DISTILBERT_API_KEYS=plain-key"}, "--jwt-hs256-secret-file", secretFile,
		"--jwt-public-key-file", pubFile, "--jwt-issuer", "https://issuer.example", "--jwt-audience", "distilbert")

	now := time.Now().Unix()
	claims := func(edit func(map[string]any)) map[string]any {
		c := map[string]any{"sub": "user-1", "iss": "https://issuer.example", "aud": "distilbert", "exp": now + 300, "iat": now, "nbf": now - 5}
		if edit != nil {
			edit(c)
		}
		return c
	}
	hs := map[string]string{"alg": "HS256", "typ": "JWT"}
	body := map[string]string{"text": "good"}

	for name, tok := range map[string]string{
		"HS256":                            signHS256(t, hs, claims(nil), secret),
		"RS256":                            signRS256(t, claims(nil), key),
		"RS256, audience in a list":        signRS256(t, claims(func(c map[string]any) { c["aud"] = []string{"other", "distilbert"} }), key),
		"HS256, expired within the leeway": signHS256(t, hs, claims(func(c map[string]any) { c["exp"] = now - 5 }), secret),
	} {
		if r := p.post("/predict", body, "Authorization", "Bearer "+tok); r.status != 200 {
			t.Errorf("%s: %d %s", name, r.status, r.body)
		}
	}
	if r := p.post("/predict", body, "X-API-Key", "plain-key"); r.status != 200 {
		t.Errorf("API key beside JWT: %d %s", r.status, r.body)
	}

	valid := signRS256(t, claims(nil), key)
	tampered := valid[:len(valid)-len(valid)/3] + jwtPart(t, claims(func(c map[string]any) { c["sub"] = "admin" }))
	headerClaims := jwtPart(t, hs) + "." + jwtPart(t, claims(func(c map[string]any) { c["sub"] = "admin" }))
	parts := []byte(valid)
	for i := len(parts) - 10; i < len(parts)-5; i++ {
		parts[i] ^= 1
	}
	for name, tok := range map[string]string{
		"expired":                              signHS256(t, hs, claims(func(c map[string]any) { c["exp"] = now - 120 }), secret),
		"not yet valid":                        signHS256(t, hs, claims(func(c map[string]any) { c["nbf"] = now + 120 }), secret),
		"no exp":                               signHS256(t, hs, claims(func(c map[string]any) { delete(c, "exp") }), secret),
		"wrong audience":                       signRS256(t, claims(func(c map[string]any) { c["aud"] = "someone-else" }), key),
		"wrong issuer":                         signRS256(t, claims(func(c map[string]any) { c["iss"] = "https://evil.example" }), key),
		"alg none":                             jwtPart(t, map[string]string{"alg": "none", "typ": "JWT"}) + "." + jwtPart(t, claims(nil)) + ".",
		"alg none, unsigned":                   jwtPart(t, map[string]string{"alg": "none"}) + "." + jwtPart(t, claims(nil)),
		"HS256 signed with the RSA public key": signHS256(t, hs, claims(nil), pubPEM),
		"HS256 signed with the public key DER": signHS256(t, hs, claims(nil), der),
		"RS256 by another key":                 signRS256(t, claims(nil), other),
		"tampered claims":                      tampered,
		"flipped signature bits":               string(parts),
		"HS256 with a wrong secret":            signHS256(t, hs, claims(nil), []byte("another secret of thirty-two bytes!!")),
		"header and claims, no signature":      headerClaims,
		"RS384 header on an RS256 signature": func() string {
			h := jwtPart(t, map[string]string{"alg": "RS384"})
			return h + valid[len(jwtPart(t, map[string]string{"alg": "RS256", "typ": "JWT"})):]
		}(),
	} {
		r := p.post("/predict", body, "Authorization", "Bearer "+tok)
		var e struct {
			Error struct{ Code, Message string }
		}
		json.Unmarshal(r.body, &e)
		if r.status != 401 || e.Error.Code != "unauthorized" || e.Error.Message != "invalid token" {
			t.Errorf("%s: %d %s, want 401 \"invalid token\"", name, r.status, r.body)
		}
	}
}

// Failed authentication is throttled per client: guessing keys at network
// speed turns into 429s.
func TestFailedAuthThrottled(t *testing.T) {
	t.Parallel()
	p := start(t, []string{"DISTILBERT_API_KEYS=right-key"})
	counts := map[int]int{}
	for i := range 40 {
		r := p.post("/predict", map[string]string{"text": "x"}, "X-API-Key", "wrong-"+string(rune('a'+i%26)))
		counts[r.status]++
	}
	if counts[401] == 0 || counts[429] == 0 || counts[401]+counts[429] != 40 {
		t.Errorf("40 wrong keys: statuses %v, want 401s, then 429s", counts)
	}
	if counts[401] > 25 {
		t.Errorf("%d wrong keys checked before throttling", counts[401])
	}
}
