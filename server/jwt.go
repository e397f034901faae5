package server

import (
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// jwtLeeway is the clock skew allowed on exp, nbf and iat.
const jwtLeeway = 30 * time.Second

// jwtVerifier checks bearer JWTs. The algorithm comes from the configured
// keys, never from the token: an HS256 token is checked with the secret
// only, an RS256/ES256/EdDSA one with the public key only, and any other
// alg (none included) is refused, so neither "none" nor an HMAC signed
// with the public key as secret can pass.
type jwtVerifier struct {
	secret    []byte // HS256; nil: none
	publicKey any    // *rsa.PublicKey, *ecdsa.PublicKey or ed25519.PublicKey; nil: none
	publicAlg string
	parser    *jwt.Parser
}

func newJWTVerifier(secretFile, publicKeyFile, issuer, audience string) (*jwtVerifier, error) {
	if secretFile == "" && publicKeyFile == "" {
		if issuer != "" || audience != "" {
			return nil, errors.New("--jwt-issuer and --jwt-audience need --jwt-hs256-secret-file or --jwt-public-key-file")
		}
		return nil, nil
	}
	v := &jwtVerifier{}
	var algs []string
	if secretFile != "" {
		b, err := os.ReadFile(secretFile)
		if err != nil {
			return nil, fmt.Errorf("--jwt-hs256-secret-file: %w", err)
		}
		v.secret = []byte(strings.TrimRight(string(b), "\r\n"))
		if len(v.secret) < 32 {
			return nil, fmt.Errorf("--jwt-hs256-secret-file: the secret is %d bytes; HS256 needs at least 32", len(v.secret))
		}
		algs = append(algs, "HS256")
	}
	if publicKeyFile != "" {
		key, alg, err := loadPublicKey(publicKeyFile)
		if err != nil {
			return nil, fmt.Errorf("--jwt-public-key-file: %w", err)
		}
		v.publicKey, v.publicAlg = key, alg
		algs = append(algs, alg)
	}
	opts := []jwt.ParserOption{jwt.WithValidMethods(algs), jwt.WithLeeway(jwtLeeway),
		jwt.WithExpirationRequired(), jwt.WithIssuedAt()}
	if issuer != "" {
		opts = append(opts, jwt.WithIssuer(issuer))
	}
	if audience != "" {
		opts = append(opts, jwt.WithAudience(audience))
	}
	v.parser = jwt.NewParser(opts...)
	return v, nil
}

// loadPublicKey reads a PEM public key (or certificate) and names the one
// algorithm it verifies.
func loadPublicKey(path string) (any, string, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, "", err
	}
	block, _ := pem.Decode(b)
	if block == nil {
		return nil, "", errors.New("no PEM block found")
	}
	var key any
	switch block.Type {
	case "CERTIFICATE":
		cert, err := x509.ParseCertificate(block.Bytes)
		if err != nil {
			return nil, "", err
		}
		key = cert.PublicKey
	case "RSA PUBLIC KEY":
		key, err = x509.ParsePKCS1PublicKey(block.Bytes)
	default:
		key, err = x509.ParsePKIXPublicKey(block.Bytes)
	}
	if err != nil {
		return nil, "", err
	}
	switch k := key.(type) {
	case *rsa.PublicKey:
		if k.N.BitLen() < 2048 {
			return nil, "", fmt.Errorf("RSA key of %d bits; at least 2048 needed", k.N.BitLen())
		}
		return k, "RS256", nil
	case *ecdsa.PublicKey:
		if k.Curve != elliptic.P256() {
			return nil, "", errors.New("only P-256 ECDSA keys (ES256) are supported")
		}
		return k, "ES256", nil
	case ed25519.PublicKey:
		return k, "EdDSA", nil
	}
	return nil, "", fmt.Errorf("unsupported public key type %T", key)
}

// looksLikeJWT tells a compact JWS from an API key.
func looksLikeJWT(tok []byte) bool {
	return strings.Count(string(tok), ".") == 2
}

// verify returns the client id of a valid token ("jwt:" and a digest of
// its subject and issuer), or an error that is logged, never answered.
func (v *jwtVerifier) verify(tok string) (string, error) {
	t, err := v.parser.Parse(tok, func(t *jwt.Token) (any, error) {
		switch t.Method.Alg() {
		case "HS256":
			if v.secret != nil {
				return v.secret, nil
			}
		case v.publicAlg:
			return v.publicKey, nil
		}
		return nil, fmt.Errorf("alg %q is not the configured key's", t.Method.Alg())
	})
	if err != nil {
		return "", err
	}
	sub, _ := t.Claims.GetSubject()
	iss, _ := t.Claims.GetIssuer()
	d := sha256.Sum256([]byte(iss + "\x00" + sub))
	return "jwt:" + hex.EncodeToString(d[:4]), nil
}
