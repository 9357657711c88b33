// Package reactionstest runs what the reactions' tests and benchmarks
// need that is not in the process already: a real NATS server with
// JetStream, in process, on a loopback port and a temporary directory.
// It is test code; the binary never links it.
package reactionstest

import (
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
)

// RunNATS starts a NATS server with JetStream on 127.0.0.1 and a free
// port, storing into a temporary directory, and returns its URL. It is
// shut down when the test ends.
func RunNATS(tb testing.TB) string {
	tb.Helper()
	return RunNATSOn(tb, -1)
}

// RunNATSOn is RunNATS on the given port (-1: a free one).
func RunNATSOn(tb testing.TB, port int) string {
	tb.Helper()
	ns, err := server.NewServer(&server.Options{
		Host: "127.0.0.1", Port: port, JetStream: true, StoreDir: tb.TempDir(),
		NoLog: true, NoSigs: true,
	})
	if err != nil {
		tb.Fatalf("nats server: %v", err)
	}
	go ns.Start()
	if !ns.ReadyForConnections(10 * time.Second) {
		ns.Shutdown()
		tb.Fatal("nats server did not start within 10s")
	}
	tb.Cleanup(func() {
		ns.Shutdown()
		ns.WaitForShutdown()
	})
	return ns.ClientURL()
}
