package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"

	"agentdesk/commands"
	"agentdesk/domain"
	"agentdesk/internal/auth"
	"agentdesk/projections"
	"agentdesk/readstore"
)

// BenchmarkHTTPPaths drives the real server over loopback TCP, the way a
// client meets it, at AGENTDESK_BENCH_CONC connections (default 64) for
// AGENTDESK_BENCH_SECONDS per path (default 10), on the list benchmark's
// company: a tenth of AGENTDESK_BENCH_TICKETS (default 1,000,000)
// tickets, filled once. AGENTDESK_BENCH_DIR keeps the filled data dir
// between runs (it is filled when empty). Beside each path it measures a
// bare net/http handler answering one stored ticket, the ceiling of this
// machine's HTTP stack, in the same run. It reports requests/s and p99
// per path.
func BenchmarkHTTPPaths(b *testing.B) {
	dir, userID, companyID := benchData(b)
	conc := benchEnvInt(b, "AGENTDESK_BENCH_CONC", 64)
	seconds := benchEnvInt(b, "AGENTDESK_BENCH_SECONDS", 10)

	cfg := testConfig(b, dir)
	srv, err := Open(context.Background(), cfg, quietLogger(b))
	if err != nil {
		b.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	go srv.Serve(ln)
	defer srv.Shutdown(context.Background())
	base := "http://" + ln.Addr().String()
	secret, _ := cfg.EnsureSecret()
	tokens, _ := auth.NewTokens(secret, time.Hour)
	token, _, err := tokens.Issue(auth.Claims{UserID: userID, CompanyID: companyID, Role: "company_admin"})
	if err != nil {
		b.Fatal(err)
	}
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: conc, MaxConnsPerHost: conc}}

	get := func(target string) ([]byte, error) {
		req, _ := http.NewRequest("GET", target, nil)
		req.Header.Set("Authorization", "Bearer "+token)
		resp, err := client.Do(req)
		if err != nil {
			return nil, err
		}
		defer resp.Body.Close()
		body, err := io.ReadAll(resp.Body)
		if err != nil {
			return nil, err
		}
		if resp.StatusCode != http.StatusOK {
			return nil, fmt.Errorf("GET %s: %d %.200s", target, resp.StatusCode, body)
		}
		return body, nil
	}
	list := func(filter string, sort string) string {
		return base + "/api/tickets?range=" + url.QueryEscape("[0,24]") + "&sort=" + url.QueryEscape(sort) + "&filter=" + url.QueryEscape(filter)
	}
	page, err := get(list(`{}`, `["created_at","DESC"]`))
	if err != nil {
		b.Fatal(err)
	}
	var first struct {
		Data []json.RawMessage `json:"data"`
	}
	if err := json.Unmarshal(page, &first); err != nil || len(first.Data) == 0 {
		b.Fatalf("first page: %v %.200s", err, page)
	}
	var ids []string
	for _, d := range first.Data {
		var t struct{ ID string }
		json.Unmarshal(d, &t)
		ids = append(ids, t.ID)
	}
	stored := first.Data[0]
	bare := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.Write(stored)
	})}
	bln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	go bare.Serve(bln)
	defer bare.Close()

	paths := []struct{ name, target string }{
		{"bare", "http://" + bln.Addr().String() + "/"},
		{"get", base + "/api/tickets/" + ids[0]},
		{"list", list(`{}`, `["created_at","DESC"]`)},
		{"list-status", list(`{"status":"open"}`, `["created_at","DESC"]`)},
		{"list-sort-comments", list(`{}`, `["comment_count","DESC"]`)},
		{"q", list(`{"q":"`+benchWords[7]+`"}`, `["created_at","DESC"]`)},
		{"tags", list(`{"tags":"tag07"}`, `["created_at","DESC"]`)},
	}
	if only := os.Getenv("AGENTDESK_BENCH_PATHS"); only != "" {
		paths = slices.DeleteFunc(paths, func(p struct{ name, target string }) bool {
			return !slices.Contains(strings.Split(only, ","), p.name)
		})
	}
	handler := srv.http.Handler
	b.ResetTimer()
	for _, p := range paths {
		if _, err := get(p.target); err != nil {
			b.Fatal(err)
		}
		rate, p50, p99, errs := hammer(conc, time.Duration(seconds)*time.Second, func() error {
			_, err := get(p.target)
			return err
		})
		if errs > 0 {
			b.Errorf("%s: %d errors", p.name, errs)
		}
		b.Logf("%-20s over HTTP   %8.0f req/s   p50 %6.2f ms   p99 %6.2f ms", p.name, rate, ms(p50), ms(p99))
		b.ReportMetric(rate, p.name+"-req/s")
		b.ReportMetric(ms(p99), p.name+"-p99-ms")
		if p.name == "bare" {
			continue
		}
		// The same request through the router in-process: no sockets, no
		// client, the rest of the server's work.
		path := strings.TrimPrefix(p.target, base)
		rate, p50, p99, errs = hammer(conc, time.Duration(seconds)*time.Second, func() error {
			req := httptest.NewRequest("GET", path, nil)
			req.Header.Set("Authorization", "Bearer "+token)
			rec := httptest.NewRecorder()
			handler.ServeHTTP(rec, req)
			if rec.Code != http.StatusOK {
				return fmt.Errorf("GET %s: %d", path, rec.Code)
			}
			return nil
		})
		if errs > 0 {
			b.Errorf("%s in-process: %d errors", p.name, errs)
		}
		b.Logf("%-20s in-process %8.0f req/s   p50 %6.2f ms   p99 %6.2f ms", p.name, rate, ms(p50), ms(p99))
		b.ReportMetric(rate, p.name+"-inproc-req/s")
	}
}

// hammer calls do from conc goroutines for d and returns the rate, the
// p50 and p99 latencies and the number of errors.
func hammer(conc int, d time.Duration, do func() error) (rate float64, p50, p99 time.Duration, errs int64) {
	var mu sync.Mutex
	var all []time.Duration
	var failed atomic.Int64
	deadline := time.Now().Add(d)
	var wg sync.WaitGroup
	start := time.Now()
	for range conc {
		wg.Go(func() {
			var mine []time.Duration
			for time.Now().Before(deadline) {
				t0 := time.Now()
				if err := do(); err != nil {
					failed.Add(1)
					continue
				}
				mine = append(mine, time.Since(t0))
			}
			mu.Lock()
			all = append(all, mine...)
			mu.Unlock()
		})
	}
	wg.Wait()
	elapsed := time.Since(start)
	if len(all) == 0 {
		return 0, 0, 0, failed.Load()
	}
	slices.Sort(all)
	at := func(p float64) time.Duration { return all[min(len(all)-1, int(float64(len(all))*p))] }
	return float64(len(all)) / elapsed.Seconds(), at(0.50), at(0.99), failed.Load()
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

func benchEnvInt(tb testing.TB, name string, def int) int {
	s := os.Getenv(name)
	if s == "" {
		return def
	}
	v, err := strconv.Atoi(s)
	if err != nil || v < 1 {
		tb.Fatalf("%s=%q: want a positive integer", name, s)
	}
	return v
}

// benchData returns a data dir holding the benchmark tickets, filled
// once per process into a temporary dir, or kept in AGENTDESK_BENCH_DIR
// across runs (filled when it holds none yet).
func benchData(b *testing.B) (dir, userID, companyID string) {
	keep := os.Getenv("AGENTDESK_BENCH_DIR")
	ids := filepath.Join(keep, "bench-ids")
	if keep != "" {
		if raw, err := os.ReadFile(ids); err == nil {
			if f := strings.Fields(string(raw)); len(f) == 2 {
				return keep, f[0], f[1]
			}
		}
	}
	benchFill.once.Do(func() {
		dir, err := keep, os.MkdirAll(keep, 0o700)
		if keep == "" {
			dir, err = os.MkdirTemp("", "agentdesk-bench-")
		}
		if err != nil {
			b.Fatal(err)
		}
		start, n := time.Now(), benchTickets(b)
		userID, companyID := fillReadModel(b, filepath.Join(dir, "reads.db"), n)
		b.Logf("filled %d tickets in %s", n, time.Since(start).Round(time.Millisecond))
		if keep != "" {
			if err := os.WriteFile(ids, []byte(userID+" "+companyID), 0o600); err != nil {
				b.Fatal(err)
			}
		}
		benchFill.dir, benchFill.temp, benchFill.userID, benchFill.companyID = dir, keep == "", userID, companyID
	})
	if benchFill.dir == "" {
		b.Fatal("no data: the first fill failed")
	}
	return benchFill.dir, benchFill.userID, benchFill.companyID
}

// BenchmarkHTTPCreates measures POST /api/tickets over loopback TCP at
// AGENTDESK_BENCH_CONC connections (default 64) for
// AGENTDESK_BENCH_SECONDS (default 10) on a fresh server, each answer
// the created record (read-your-writes). In the same run, on the same
// server's stores, it measures the command pipeline alone (the same
// command through commands.App, no HTTP, no wait for the view) and a bare
// net/http handler answering a stored record.
func BenchmarkHTTPCreates(b *testing.B) {
	// As the binary runs (see moreProcs and lessGC).
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(0))
	moreProcs(os.Getenv("GOMAXPROCS"))
	old := debug.SetGCPercent(100) // the only way to read the setting
	debug.SetGCPercent(old)
	defer debug.SetGCPercent(old)
	lessGC(os.Getenv("GOGC"))
	conc := benchEnvInt(b, "AGENTDESK_BENCH_CONC", 64)
	seconds := benchEnvInt(b, "AGENTDESK_BENCH_SECONDS", 10)
	dir := b.TempDir()
	ts := startServer(b, dir)
	root := login(b, ts.URL, "admin", testAdminPassword)
	co := root.must(http.StatusCreated, "POST", "/api/companies", map[string]any{"name": "Bench"}).Map(b)
	root.must(http.StatusCreated, "POST", "/api/users", map[string]any{
		"company_id": co["id"], "username": "bench-admin", "password": "bench-password-1", "role": "company_admin",
		"email": "bench@example.com", "full_name": "Bench Admin",
	})
	admin := login(b, ts.URL, "bench-admin", "bench-password-1")
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: conc, MaxConnsPerHost: conc}}
	body := `{"title":"Printer on fire","description":"It smokes","priority":"high","tags":["hardware"]}`
	post := func() error {
		req, _ := http.NewRequest("POST", ts.URL+"/api/tickets", strings.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+admin.token)
		req.Header.Set("Content-Type", "application/json")
		resp, err := client.Do(req)
		if err != nil {
			return err
		}
		defer resp.Body.Close()
		raw, err := io.ReadAll(resp.Body)
		if err != nil {
			return err
		}
		if resp.StatusCode != http.StatusCreated {
			return fmt.Errorf("POST /api/tickets: %d %.200s", resp.StatusCode, raw)
		}
		return nil
	}
	if err := post(); err != nil {
		b.Fatal(err)
	}
	stored := admin.must(http.StatusOK, "GET", "/api/tickets?range=[0,0]", nil).Body
	bare := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusCreated)
		w.Write(stored)
	})}
	bln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	go bare.Serve(bln)
	defer bare.Close()
	bareURL := "http://" + bln.Addr().String() + "/"

	me := admin.must(http.StatusOK, "GET", "/auth/me", nil).Map(b)
	companyID, _ := me["company_id"].(string)
	userID, _ := me["id"].(string)
	meta := commands.Meta{Principal: domain.Principal{UserID: userID, CompanyID: companyID, Role: domain.CompanyAdmin}}
	app, err := commands.New(commands.Config{Store: ts.srv.events, Hasher: auth.Bcrypt{Cost: 4}})
	if err != nil {
		b.Fatal(err)
	}

	runs := []struct {
		name string
		do   func() error
	}{
		{"bare", func() error {
			resp, err := client.Post(bareURL, "application/json", strings.NewReader(body))
			if err != nil {
				return err
			}
			io.Copy(io.Discard, resp.Body)
			return resp.Body.Close()
		}},
		// Over HTTP before the pipeline: the pipeline's events would
		// make every HTTP create wait for the views to catch up on them.
		{"http", post},
		{"pipeline", func() error {
			_, err := app.OpenTicket(context.Background(), meta, commands.OpenTicket{Title: "Printer on fire", Description: "It smokes", Priority: "high", Tags: []string{"hardware"}})
			return err
		}},
	}
	if only := os.Getenv("AGENTDESK_BENCH_PATHS"); only != "" {
		runs = slices.DeleteFunc(runs, func(r struct {
			name string
			do   func() error
		}) bool {
			return !slices.Contains(strings.Split(only, ","), r.name)
		})
	}
	b.ResetTimer()
	for _, r := range runs {
		rate, p50, p99, errs := hammer(conc, time.Duration(seconds)*time.Second, r.do)
		if errs > 0 {
			b.Errorf("%s: %d errors", r.name, errs)
		}
		b.Logf("creates %-10s %8.0f /s   p50 %6.2f ms   p99 %6.2f ms", r.name, rate, ms(p50), ms(p99))
		b.ReportMetric(rate, r.name+"-creates/s")
		b.ReportMetric(ms(p99), r.name+"-p99-ms")
	}
}

// BenchmarkTenantFairness measures one company's p99 over loopback TCP
// alone, then while another company (a tenth of AGENTDESK_BENCH_TICKETS
// tickets) runs 16 concurrent heavy lists: a text search matching every
// ticket. It reports both p99s and their ratio, and fails past 2×.
func BenchmarkTenantFairness(b *testing.B) {
	dir, userID, companyID := benchData(b)
	seconds := benchEnvInt(b, "AGENTDESK_BENCH_SECONDS", 10)
	cfg := testConfig(b, dir)
	srv, err := Open(context.Background(), cfg, quietLogger(b))
	if err != nil {
		b.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	go srv.Serve(ln)
	defer srv.Shutdown(context.Background())
	base := "http://" + ln.Addr().String()

	// The quiet company: a company and its admin, written into the read
	// models as the projections would.
	quietCo, quietUser := uuid.NewString(), uuid.NewString()
	user, _ := json.Marshal(projections.User{ID: quietUser, CompanyID: &quietCo, Username: "quiet", Role: "company_admin", Active: true})
	co, _ := json.Marshal(projections.Company{ID: quietCo, CompanyID: quietCo, Name: "Quiet", Status: "active"})
	if err := srv.reads.Apply(context.Background(), readstore.Batch{Writes: []readstore.Write{
		{Collection: projections.Users, Doc: readstore.Doc{ID: quietUser, Version: "1", Data: user}},
		{Collection: projections.Companies, Doc: readstore.Doc{ID: quietCo, Version: "1", Data: co}},
	}}); err != nil {
		b.Fatal(err)
	}
	secret, _ := cfg.EnsureSecret()
	tokens, _ := auth.NewTokens(secret, time.Hour)
	heavyToken, _, _ := tokens.Issue(auth.Claims{UserID: userID, CompanyID: companyID, Role: "company_admin"})
	quietToken, _, _ := tokens.Issue(auth.Claims{UserID: quietUser, CompanyID: quietCo, Role: "company_admin"})
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 64, MaxConnsPerHost: 64}}
	get := func(token, target string, okStatus ...int) error {
		req, _ := http.NewRequest("GET", base+target, nil)
		req.Header.Set("Authorization", "Bearer "+token)
		resp, err := client.Do(req)
		if err != nil {
			return err
		}
		defer resp.Body.Close()
		io.Copy(io.Discard, resp.Body)
		if resp.StatusCode != http.StatusOK && !slices.Contains(okStatus, resp.StatusCode) {
			return fmt.Errorf("GET %s: %d", target, resp.StatusCode)
		}
		return nil
	}
	quiet := func() error {
		if err := get(quietToken, "/api/tickets?range=[0,24]"); err != nil {
			return err
		}
		return get(quietToken, "/auth/me")
	}
	// A search for a word every title holds: a million matches to
	// gather and count, a few hundred milliseconds each.
	heavy := "/api/tickets?range=[0,24]&filter=" + url.QueryEscape(`{"q":"ticket"}`)
	if err := get(heavyToken, heavy); err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	d := time.Duration(seconds) * time.Second
	_, _, idle, errs := hammer(4, d, quiet)
	if errs > 0 {
		b.Fatalf("quiet company alone: %d errors", errs)
	}
	stop := make(chan struct{})
	var heavyDone sync.WaitGroup
	var heavyN, refused atomic.Int64
	for range 16 {
		heavyDone.Go(func() {
			for {
				select {
				case <-stop:
					return
				default:
				}
				if err := get(heavyToken, heavy, http.StatusTooManyRequests); err == nil {
					heavyN.Add(1)
				} else {
					refused.Add(1)
				}
			}
		})
	}
	_, _, abused, errs := hammer(4, d, quiet)
	close(stop)
	heavyDone.Wait()
	if errs > 0 {
		b.Errorf("quiet company beside the heavy one: %d errors", errs)
	}
	ratio := float64(abused) / float64(idle)
	b.Logf("quiet company p99: alone %.2f ms, beside 16 heavy lists %.2f ms (×%.2f); heavy lists answered %d, failed %d",
		ms(idle), ms(abused), ratio, heavyN.Load(), refused.Load())
	b.ReportMetric(ms(idle), "idle-p99-ms")
	b.ReportMetric(ms(abused), "abused-p99-ms")
	b.ReportMetric(ratio, "ratio")
	if ratio > 2 {
		b.Errorf("the quiet company's p99 went from %.2f ms to %.2f ms: more than 2×", ms(idle), ms(abused))
	}
}
