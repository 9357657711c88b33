// Package esdbtest is a protocol test double for EventStoreDB: an in-process,
// in-memory gRPC server that speaks enough of the EventStoreDB/KurrentDB
// client protocol for github.com/EventStore/EventStore-Client-Go/v4 (v4.2.0)
// to append, read and subscribe. It is NOT EventStoreDB: no storage engine,
// no cluster, no security; its data lives in memory, kept across Restart
// and lost at Close. Tests of the esdb adapter use it because no
// EventStoreDB server can run on the project's machines; the same tests
// run against a real server when one is given.
//
// What it implements, checked against KurrentDB's server source as of
// 26.x (src/KurrentDB.Core/Services/Transport/Grpc/Streams.*.cs, the
// Enumerators, StorageWriterService, IndexWriter.CheckCommit, AllReader),
// whose version it reports:
//   - ServerFeatures.GetSupportedMethods, which the client calls on connect.
//   - Streams.Append with expected revision any, no stream, stream exists or
//     an exact revision; a wrong expected version answered in the response
//     (both the current and the 20.6.0 fields), never as a gRPC error; the
//     server's idempotency checks (an append of events already written at
//     that place succeeds without writing and reports where they are);
//     the required "type" and "content-type" metadata; the per-event and
//     per-append size limits with the server's error trailers.
//   - Positions as the server's writer makes them: each event of an append
//     is its own prepare record, flagged committed, at its own log
//     position, and its $all position has commit = prepare = that log
//     position. Positions grow with the size of each record, so they are
//     strictly ordered and never contiguous. An append reports the
//     position of its last event.
//   - Streams.Read of a stream (forwards, backwards, from start, end or a
//     revision, with a count; "stream not found" for a missing stream) and
//     of $all (forwards, backwards, from start, end or a position, with or
//     without a filter). Every event carries the metadata keys "type",
//     "content-type" and "created" (.NET ticks since the Unix epoch), its
//     custom metadata and data as stored, and its position.
//   - Catch-up subscriptions to $all, from the start, the end or after a
//     position, with or without a server-side filter (stream name or event
//     type, prefixes or a regular expression), as the server's
//     AllSubscription and AllSubscriptionFiltered enumerators run them:
//     confirmation, catch-up pages of 32, checkpoints every window ×
//     checkpointIntervalMultiplier considered events and at the end of the
//     catch-up, the caught-up message, then live events with no gap and no
//     duplicate. Subscriptions to one stream, without checkpoints.
//
// What it does not implement: deletes and tombstones, stream metadata
// ($$streams, max age or count), links and projections (no $-streams of
// its own, though clients may write to them), persistent subscriptions,
// batch append, gossip and clusters, authentication and ACLs, TLS, the
// first/last stream position messages (sent only to clients asking for
// compatibility level 1, which v4.2.0 does not), and the real server's
// "fell behind" path: its live buffer never overflows. The idempotency
// check of appends expecting any revision consults every event ever
// written, where the real server keeps a bounded cache of recent ones.
// Filtered $all reads (not subscriptions) ignore the search window.
package esdbtest

import (
	"context"
	"errors"
	"fmt"
	"net"
	"sync"
	"testing"

	sf "github.com/EventStore/EventStore-Client-Go/v4/protos/serverfeatures"
	"github.com/EventStore/EventStore-Client-Go/v4/protos/shared"
	api "github.com/EventStore/EventStore-Client-Go/v4/protos/streams"
	"google.golang.org/grpc"
)

// Config changes how the double behaves. The zero Config behaves like a
// default KurrentDB 26.1 node.
type Config struct {
	// OmitCaughtUp stops subscriptions from sending the caught-up message,
	// which servers before 23.10 never send, so clients' fallbacks can be
	// tested. (Those servers also sent no checkpoint at the end of a
	// filtered catch-up; the double still does.)
	OmitCaughtUp bool
	// MaxAppendSize is the most bytes (data, metadata and twice the type)
	// one append may carry; zero means KurrentDB's default since 26.0,
	// 256 MiB (before: 1 MiB).
	MaxAppendSize int
	// MaxAppendEventSize is the most bytes one event may carry; zero means
	// the default, 16 MiB less 10,000 bytes of record overhead.
	MaxAppendEventSize int
	// Addr is the host:port to listen on, to stand in for a server that
	// restarts; empty means 127.0.0.1 at a free port.
	Addr string
}

// ServerVersion is the version the double reports to clients.
const ServerVersion = "26.1.0"

// Server is a running double. Its methods are safe for concurrent use.
type Server struct {
	cfg    Config
	log    *eventLog
	grpc   *grpc.Server
	lis    net.Listener
	served chan struct{}
	once   sync.Once
}

// Start starts a double listening on cfg.Addr (by default 127.0.0.1 at a
// free port), without TLS.
func Start(cfg Config) (*Server, error) {
	if cfg.MaxAppendSize == 0 {
		cfg.MaxAppendSize = defaultMaxAppendSize
	}
	if cfg.MaxAppendEventSize == 0 {
		cfg.MaxAppendEventSize = effectiveMaxLogRecordSize
	}
	if cfg.MaxAppendSize < 0 || cfg.MaxAppendEventSize < 0 {
		return nil, errors.New("esdbtest: size limits must not be negative")
	}
	if cfg.Addr == "" {
		cfg.Addr = "127.0.0.1:0"
	}
	return serve(cfg, newEventLog())
}

// serve starts a double on cfg.Addr over log.
func serve(cfg Config, log *eventLog) (*Server, error) {
	lis, err := net.Listen("tcp", cfg.Addr)
	if err != nil {
		return nil, fmt.Errorf("esdbtest: listen: %w", err)
	}
	// The real server caps a Streams message at the largest log record;
	// what it sends is bounded by the client (17 MiB).
	g := grpc.NewServer(grpc.MaxRecvMsgSize(effectiveMaxLogRecordSize))
	api.RegisterStreamsServer(g, &streamsServer{log: log, cfg: cfg})
	sf.RegisterServerFeaturesServer(g, featuresServer{})
	s := &Server{cfg: cfg, log: log, grpc: g, lis: lis, served: make(chan struct{})}
	go func() {
		defer close(s.served)
		_ = g.Serve(lis) // returns when Close stops the server
	}()
	return s, nil
}

// MustStart starts a double for a test and stops it when the test ends.
func MustStart(tb testing.TB, cfg Config) *Server {
	tb.Helper()
	s, err := Start(cfg)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(s.Close)
	return s
}

// Restart stops s as Close does and starts a double on the same address
// over the same data, as a server process restarting on its database
// would: calls in flight fail, whether or not they were written, and
// clients reconnect. The caller closes the new double.
func (s *Server) Restart() (*Server, error) {
	s.Close()
	cfg := s.cfg
	cfg.Addr = s.Addr()
	return serve(cfg, s.log)
}

// Addr returns the host:port the double listens on.
func (s *Server) Addr() string { return s.lis.Addr().String() }

// URL returns the connection string for the client:
// esdb://127.0.0.1:PORT?tls=false.
func (s *Server) URL() string { return "esdb://" + s.Addr() + "?tls=false" }

// Close stops the double at once: open calls and subscriptions end with
// an error. It is safe to call more than once.
func (s *Server) Close() {
	s.once.Do(func() {
		s.grpc.Stop()
		<-s.served
	})
}

// featuresServer answers the client's feature discovery, which it runs on
// every (re)connection before its first call.
type featuresServer struct {
	sf.UnimplementedServerFeaturesServer
}

// GetSupportedMethods lists what the double serves, in the lower-case
// names and with the features the real server uses (ServerFeatures.cs).
func (featuresServer) GetSupportedMethods(context.Context, *shared.Empty) (*sf.SupportedMethods, error) {
	const streams = "event_store.client.streams.streams"
	return &sf.SupportedMethods{
		EventStoreServerVersion: ServerVersion,
		Methods: []*sf.SupportedMethod{
			{ServiceName: streams, MethodName: "read", Features: []string{"position", "events"}},
			{ServiceName: streams, MethodName: "append"},
			{ServiceName: "event_store.client.server_features.serverfeatures", MethodName: "getsupportedmethods"},
		},
	}, nil
}
