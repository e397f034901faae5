package server

import (
	"bufio"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"time"

	"github.com/distilbert-go/distilbert/distilbert"
)

// Config is everything the service can be told at start-up. The zero value
// is not usable: start from DefaultConfig.
type Config struct {
	Addr string // listen address, HOST:PORT (":8080"); port 0 picks a free one

	// Dynamic batching.
	MaxBatchSize   int           // sequences per engine call
	MaxBatchTokens int           // padded tokens (sequences × longest) per engine call
	MaxWait        time.Duration // how long the batcher may wait to fill a batch (0: never wait)
	MaxQueue       int           // queued sequences; beyond it requests get 503

	// Limits.
	RequestTimeout time.Duration // per-request deadline (queue + inference) → 504
	MaxBodyBytes   int           // → 413; also the decoded size of a compressed body
	MaxBatchItems  int           // texts per /predict/batch → 413
	MaxTextChars   int           // characters (code points) per text → 413

	// Security.
	APIKeys     []string // empty: no authentication
	RateLimit   float64  // requests per second per API key (else per client IP); 0: off
	RateBurst   int      // bucket size; 0: max(1, RateLimit)
	CORSOrigins []string // allowed Origin values; "*" allows any
	TLSCert     string
	TLSKey      string
	LogTexts    bool // include request texts in logs

	CacheSize     int           // LRU entries (0: no cache)
	ShutdownGrace time.Duration // SIGTERM → exit within this
	ReadTimeout   time.Duration // time to read one request (headers and body)
	IdleTimeout   time.Duration // keep-alive connections idle longer are closed
	AccessLog     bool          // one log line per request
	// CompressResponses gzips (or deflates) responses of 1 KiB or more
	// for clients that accept it.
	CompressResponses bool
	LogLevel          string // debug, info, warn, error

	// ServedModelName is {name} in the Open Inference Protocol's
	// /v2/models/{name} routes; empty: the model's own name.
	ServedModelName string

	// Hardening (see listener.go, drain in server.go).
	ShutdownDelay     time.Duration // SIGTERM → /readyz 503, still serving, for this long; then drain
	MaxConns          int           // open connections in total (0: from the file descriptor limit)
	MaxConnsPerClient int           // open connections per client address (0: a quarter of MaxConns)
	TrustedProxies    []string      // CIDRs or addresses whose X-Forwarded-For names the client
	MaxInflightBytes  int           // request body bytes admitted at once (0: max(32 MiB, 4 × MaxBodyBytes))

	// JWT bearer tokens, beside or instead of API keys (see jwt.go).
	JWTHS256SecretFile string // HS256 secret, at least 32 bytes
	JWTPublicKeyFile   string // PEM public key or certificate: RS256, ES256 (P-256) or EdDSA
	JWTIssuer          string // required iss, when set
	JWTAudience        string // required aud, when set

	// Shared cache (see rediscache.go).
	CacheRedis        string        // redis:// or rediss:// URL (AUTH and TLS through it); empty: none
	CacheRedisTTL     time.Duration // how long a cached result lives in Redis
	CacheRedisTimeout time.Duration // budget of one Redis lookup; past it, a miss
	// ModelFingerprint identifies the model's results: the weights'
	// SHA-256, quantization, device and precision. Redis keys include it,
	// so replicas share results only when they would compute the same.
	ModelFingerprint string

	// Hot reload (SIGHUP, POST /admin/reload): Loader loads the model
	// again; the admin endpoint answers only AdminKeys.
	Loader Loader
	// OwnModel hands the classifier given to New to the server, which
	// closes it once no longer used: after a reload replaced it, or at
	// Close. Otherwise it stays the caller's to close.
	OwnModel      bool
	AdminKeys     []string
	AdminKeysFile string // --admin-keys-file, read by the caller into AdminKeys (LoadAPIKeys)

	Version string       // reported by /info
	Logger  *slog.Logger // nil: JSON to stderr at LogLevel
}

// DefaultConfig returns the defaults documented in `distilbert serve --help`.
func DefaultConfig() Config {
	c := Config{
		Addr:              ":8080",
		MaxBatchSize:      32,
		MaxBatchTokens:    8192,
		MaxQueue:          1024,
		RequestTimeout:    30 * time.Second,
		MaxBodyBytes:      1 << 20,
		MaxBatchItems:     256,
		MaxTextChars:      10000,
		ShutdownGrace:     15 * time.Second,
		ReadTimeout:       30 * time.Second,
		IdleTimeout:       60 * time.Second,
		AccessLog:         true,
		CompressResponses: true,
		LogLevel:          "info",
		Version:           "dev",
	}
	c.ShutdownDelay = 5 * time.Second
	c.CacheRedisTTL = 24 * time.Hour
	c.CacheRedisTimeout = 5 * time.Millisecond
	return c
}

// listFlag is a comma-separated list flag.
type listFlag struct{ dst *[]string }

func (l listFlag) String() string {
	if l.dst == nil {
		return ""
	}
	return strings.Join(*l.dst, ",")
}

func (l listFlag) Set(s string) error {
	*l.dst = nil
	for _, f := range strings.Split(s, ",") {
		if f = strings.TrimSpace(f); f != "" {
			*l.dst = append(*l.dst, f)
		}
	}
	return nil
}

// RegisterFlags adds the service's flags to fs, with c's values as defaults.
// The API keys themselves are not a flag (they would show in ps): use
// --api-keys-file or DISTILBERT_API_KEYS; see LoadAPIKeys.
func (c *Config) RegisterFlags(fs *flag.FlagSet, apiKeysFile *string) {
	fs.StringVar(&c.Addr, "addr", c.Addr, "listen address HOST:PORT")
	fs.IntVar(&c.MaxBatchSize, "max-batch-size", c.MaxBatchSize, "most sequences per engine call (serve: unless given, the engine's, at most 256: 32 on the CPU)")
	fs.IntVar(&c.MaxBatchTokens, "max-batch-tokens", c.MaxBatchTokens, "most padded tokens (sequences x longest) per engine call (serve: unless given, the engine's, at most 32768: 8192 on the CPU)")
	fs.DurationVar(&c.MaxWait, "max-wait", c.MaxWait, "how long to wait for more requests to fill a batch (0: run what is queued at once)")
	fs.IntVar(&c.MaxQueue, "max-queue", c.MaxQueue, "most queued sequences; beyond it requests get 503")
	fs.DurationVar(&c.RequestTimeout, "request-timeout", c.RequestTimeout, "per-request deadline (queue wait + inference), then 504")
	fs.IntVar(&c.MaxBodyBytes, "max-body-bytes", c.MaxBodyBytes, "largest request body, also once decompressed (Content-Encoding gzip or deflate), then 413")
	fs.IntVar(&c.MaxBatchItems, "max-batch-items", c.MaxBatchItems, "most texts in one /predict/batch, then 413")
	fs.IntVar(&c.MaxTextChars, "max-text-chars", c.MaxTextChars, "longest text in characters, then 413")
	fs.StringVar(apiKeysFile, "api-keys-file", *apiKeysFile, "file of API keys, one per line (# comments); also DISTILBERT_API_KEYS=k1,k2")
	fs.Float64Var(&c.RateLimit, "rate-limit", c.RateLimit, "requests per second per API key (else per client IP), 0: off")
	fs.IntVar(&c.RateBurst, "rate-burst", c.RateBurst, "rate-limit bucket size (0: max(1, rate-limit))")
	fs.Var(listFlag{&c.CORSOrigins}, "cors-origins", "comma-separated allowed CORS origins, or *")
	fs.StringVar(&c.TLSCert, "tls-cert", c.TLSCert, "TLS certificate file (PEM); with --tls-key serves HTTPS")
	fs.StringVar(&c.TLSKey, "tls-key", c.TLSKey, "TLS private key file (PEM)")
	fs.BoolVar(&c.LogTexts, "log-texts", c.LogTexts, "include request texts in the logs")
	fs.IntVar(&c.CacheSize, "cache-size", c.CacheSize, "LRU response cache entries (0: off)")
	fs.DurationVar(&c.ShutdownGrace, "shutdown-grace", c.ShutdownGrace, "on SIGTERM, exit within this long (delay included); what is still queued then gets 503")
	fs.DurationVar(&c.ShutdownDelay, "shutdown-delay", c.ShutdownDelay, "on SIGTERM, report /readyz 503 while still serving for this long before draining (at most half the grace; 0: drain at once)")
	fs.IntVar(&c.MaxConns, "max-conns", c.MaxConns, "most open connections in total (0: the open-files limit less a reserve, at most 10000)")
	fs.IntVar(&c.MaxConnsPerClient, "max-conns-per-client", c.MaxConnsPerClient, "most open connections from one client address (0: a quarter of --max-conns; trusted proxies are exempt)")
	fs.IntVar(&c.MaxInflightBytes, "max-inflight-bytes", c.MaxInflightBytes, "request body bytes read and decoded at once, from Content-Length before the body is read; beyond it 503 (0: max(32 MiB, 4 x --max-body-bytes))")
	fs.StringVar(&c.JWTHS256SecretFile, "jwt-hs256-secret-file", c.JWTHS256SecretFile, "file holding the HS256 secret (at least 32 bytes) that bearer JWTs may be signed with")
	fs.StringVar(&c.JWTPublicKeyFile, "jwt-public-key-file", c.JWTPublicKeyFile, "PEM public key or certificate that bearer JWTs may be signed for (RSA: RS256, P-256: ES256, Ed25519: EdDSA)")
	fs.StringVar(&c.JWTIssuer, "jwt-issuer", c.JWTIssuer, "required JWT iss claim")
	fs.StringVar(&c.JWTAudience, "jwt-audience", c.JWTAudience, "required JWT aud claim")
	fs.StringVar(&c.CacheRedis, "cache-redis", c.CacheRedis, "shared result cache: redis://[user:password@]host:port[/db] (rediss:// for TLS); the in-process --cache-size LRU stays the first level")
	fs.DurationVar(&c.CacheRedisTTL, "cache-redis-ttl", c.CacheRedisTTL, "how long results live in the Redis cache")
	fs.DurationVar(&c.CacheRedisTimeout, "cache-redis-timeout", c.CacheRedisTimeout, "time budget of one Redis lookup; slower counts as a miss")
	fs.Var(listFlag{&c.TrustedProxies}, "trusted-proxies", "comma-separated CIDRs or addresses of proxies whose X-Forwarded-For names the client")
	fs.DurationVar(&c.ReadTimeout, "read-timeout", c.ReadTimeout, "time allowed to read one request")
	fs.DurationVar(&c.IdleTimeout, "idle-timeout", c.IdleTimeout, "close keep-alive connections idle this long")
	fs.BoolVar(&c.AccessLog, "access-log", c.AccessLog, "log one line per request")
	fs.BoolVar(&c.CompressResponses, "compress-responses", c.CompressResponses, "gzip or deflate responses of 1 KiB or more for clients that accept it (Accept-Encoding)")
	fs.StringVar(&c.LogLevel, "log-level", c.LogLevel, "debug, info, warn or error")
	fs.StringVar(&c.AdminKeysFile, "admin-keys-file", c.AdminKeysFile, "file of admin keys, one per line, for POST /admin/reload (reload the model from --model); also DISTILBERT_ADMIN_KEYS=k1,k2")
	fs.StringVar(&c.ServedModelName, "served-model-name", c.ServedModelName, "model name in the Open Inference Protocol (KServe v2) routes /v2/models/NAME (default: the model's name)")
}

// EnvName is the environment variable that stands for a flag:
// "max-batch-size" → DISTILBERT_MAX_BATCH_SIZE.
func EnvName(flagName string) string {
	return "DISTILBERT_" + strings.ToUpper(strings.ReplaceAll(flagName, "-", "_"))
}

// ApplyEnv sets every flag of fs that was not given on the command line
// from its DISTILBERT_* variable, if set. Call it after fs.Parse.
func ApplyEnv(fs *flag.FlagSet, lookup func(string) (string, bool)) error {
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	var errs []error
	fs.VisitAll(func(f *flag.Flag) {
		if set[f.Name] {
			return
		}
		name := EnvName(f.Name)
		if v, ok := lookup(name); ok {
			if err := fs.Set(f.Name, v); err != nil {
				errs = append(errs, fmt.Errorf("%s=%q: %v", name, v, err))
			}
		}
	})
	return errors.Join(errs...)
}

// LoadAPIKeys reads API keys from a file (one per line; blank lines and
// lines starting with # are skipped) and from env, a comma-separated list
// (DISTILBERT_API_KEYS). Either may be empty.
func LoadAPIKeys(path, env string) ([]string, error) {
	var keys []string
	for _, k := range strings.Split(env, ",") {
		if k = strings.TrimSpace(k); k != "" {
			keys = append(keys, k)
		}
	}
	if path == "" {
		return keys, nil
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("api keys: %w", err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	n := 0
	for sc.Scan() {
		n++
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		if strings.ContainsAny(line, " \t") {
			return nil, fmt.Errorf("api keys: %s:%d: a key must not contain spaces", path, n)
		}
		keys = append(keys, line)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("api keys: %s: %w", path, err)
	}
	if len(keys) == 0 {
		return nil, fmt.Errorf("api keys: %s has no keys", path)
	}
	return keys, nil
}

// checkBatchLimits: above the engine's own limits a batch would be split
// into several engine calls behind the batcher's back, and the batch
// metrics would count what never ran as one call.
func (c *Config) checkBatchLimits(info distilbert.EngineInfo) error {
	seqs, tokens := info.BatchLimits()
	var errs []error
	if c.MaxBatchSize > seqs {
		errs = append(errs, fmt.Errorf("--max-batch-size %d is more than one engine call takes (%d)", c.MaxBatchSize, seqs))
	}
	if c.MaxBatchTokens > tokens {
		errs = append(errs, fmt.Errorf("--max-batch-tokens %d is more than one engine call takes (%d)", c.MaxBatchTokens, tokens))
	}
	return errors.Join(errs...)
}

// Validate reports the first nonsensical setting.
func (c *Config) Validate() error {
	var errs []error
	pos := func(name string, v int) {
		if v <= 0 {
			errs = append(errs, fmt.Errorf("--%s must be positive, got %d", name, v))
		}
	}
	pos("max-batch-size", c.MaxBatchSize)
	pos("max-batch-tokens", c.MaxBatchTokens)
	pos("max-queue", c.MaxQueue)
	pos("max-body-bytes", c.MaxBodyBytes)
	pos("max-batch-items", c.MaxBatchItems)
	pos("max-text-chars", c.MaxTextChars)
	if c.CacheSize < 0 {
		errs = append(errs, fmt.Errorf("--cache-size must not be negative, got %d", c.CacheSize))
	}
	if c.RateLimit < 0 || c.RateBurst < 0 {
		errs = append(errs, errors.New("--rate-limit and --rate-burst must not be negative"))
	}
	for _, d := range []struct {
		name string
		v    time.Duration
	}{{"request-timeout", c.RequestTimeout}, {"shutdown-grace", c.ShutdownGrace}, {"read-timeout", c.ReadTimeout}, {"idle-timeout", c.IdleTimeout}} {
		if d.v <= 0 {
			errs = append(errs, fmt.Errorf("--%s must be positive, got %v", d.name, d.v))
		}
	}
	if c.CacheRedis != "" && (c.CacheRedisTTL <= 0 || c.CacheRedisTimeout <= 0) {
		errs = append(errs, errors.New("--cache-redis-ttl and --cache-redis-timeout must be positive"))
	}
	if c.ShutdownDelay < 0 {
		errs = append(errs, fmt.Errorf("--shutdown-delay must not be negative, got %v", c.ShutdownDelay))
	}
	if c.MaxInflightBytes != 0 && c.MaxInflightBytes < c.MaxBodyBytes {
		errs = append(errs, fmt.Errorf("--max-inflight-bytes %d is less than --max-body-bytes %d", c.MaxInflightBytes, c.MaxBodyBytes))
	}
	if c.MaxConns < 0 || c.MaxConnsPerClient < 0 {
		errs = append(errs, errors.New("--max-conns and --max-conns-per-client must not be negative"))
	}
	if _, err := parseProxies(c.TrustedProxies); err != nil {
		errs = append(errs, err)
	}
	if c.MaxWait < 0 {
		errs = append(errs, fmt.Errorf("--max-wait must not be negative, got %v", c.MaxWait))
	}
	if (c.TLSCert == "") != (c.TLSKey == "") {
		errs = append(errs, errors.New("--tls-cert and --tls-key go together"))
	}
	if _, err := parseLevel(c.LogLevel); err != nil {
		errs = append(errs, err)
	}
	if c.ServedModelName != "" && !validServedName(c.ServedModelName) {
		errs = append(errs, fmt.Errorf("--served-model-name %q: use 1-128 letters, digits, '.', '_' or '-', starting with a letter or digit", c.ServedModelName))
	}
	return errors.Join(errs...)
}

func parseLevel(s string) (slog.Level, error) {
	var l slog.Level
	if err := l.UnmarshalText([]byte(s)); err != nil {
		return 0, fmt.Errorf("--log-level: %q is not debug, info, warn or error", s)
	}
	return l, nil
}

// connCaps are the connection caps in force: the flags, or defaults that
// keep the process below its open-files limit (fdLimit, 0 when unknown)
// with a reserve for everything else it opens.
func (c *Config) connCaps(fdLimit int) (total, perClient int) {
	total = c.MaxConns
	if total == 0 {
		total = 10000
		if fdLimit > 0 {
			total = min(total, fdLimit-max(32, fdLimit/16))
		}
		total = max(total, 16)
	}
	perClient = c.MaxConnsPerClient
	if perClient == 0 {
		perClient = max(8, total/4)
	}
	return total, perClient
}
