package eventstoretest

import (
	"testing"
	"time"

	"github.com/anishathalye/porcupine"

	"agentdesk/eventstore"
)

// TestLinearizabilityModel checks the model on hand-made histories, so
// that a history a correct store cannot produce is known to fail the
// check: one client's operations follow each other, times are arbitrary
// units.
func TestLinearizabilityModel(t *testing.T) {
	appendOp := func(stream int, expected eventstore.ExpectedRevision, labels string, count int, out linOutput, call, ret int64) porcupine.Operation {
		return porcupine.Operation{
			Input:  linInput{stream: stream, expected: expected, labels: labels, count: count},
			Output: out, Call: call, Return: ret,
		}
	}
	readOp := func(stream int, labels string, call, ret int64) porcupine.Operation {
		return porcupine.Operation{
			Input:  linInput{stream: stream, read: true},
			Output: linOutput{labels: labels}, Call: call, Return: ret,
		}
	}
	const end = 1000 // the return of appends of unknown outcome
	unknown := linOutput{unknown: true}
	wrong := linOutput{wrongRevision: true}
	rev := func(r uint64) linOutput { return linOutput{revision: r} }

	cases := []struct {
		name    string
		history []porcupine.Operation
		want    porcupine.CheckResult
	}{
		{"sequential appends and reads", []porcupine.Operation{
			appendOp(0, eventstore.NoStream, "a ", 1, rev(0), 0, 10),
			readOp(0, "a ", 20, 30),
			appendOp(0, eventstore.Exact(0), "b c ", 2, rev(2), 40, 50),
			appendOp(0, eventstore.Any, "d ", 1, rev(3), 60, 70),
			readOp(0, "a b c d ", 80, 90),
		}, porcupine.Ok},
		{"a read concurrent with an append may miss it", []porcupine.Operation{
			appendOp(0, eventstore.NoStream, "a ", 1, rev(0), 0, 50),
			readOp(0, "", 10, 20),
			readOp(0, "a ", 30, 40),
		}, porcupine.Ok},
		{"a read misses an append acknowledged before it began", []porcupine.Operation{
			appendOp(0, eventstore.NoStream, "a ", 1, rev(0), 0, 10),
			readOp(0, "", 20, 30),
		}, porcupine.Illegal},
		{"a read sees half of an append", []porcupine.Operation{
			appendOp(0, eventstore.NoStream, "a b ", 2, rev(1), 0, 50),
			readOp(0, "a ", 10, 20),
		}, porcupine.Illegal},
		{"two concurrent appends at the same revision both win", []porcupine.Operation{
			appendOp(0, eventstore.NoStream, "a ", 1, rev(0), 0, 10),
			appendOp(0, eventstore.Exact(0), "b ", 1, rev(1), 20, 40),
			appendOp(0, eventstore.Exact(0), "c ", 1, rev(1), 25, 45),
		}, porcupine.Illegal},
		{"one of two concurrent appends at the same revision wins", []porcupine.Operation{
			appendOp(0, eventstore.NoStream, "a ", 1, rev(0), 0, 10),
			appendOp(0, eventstore.Exact(0), "b ", 1, wrong, 20, 40),
			appendOp(0, eventstore.Exact(0), "c ", 1, rev(1), 25, 45),
			readOp(0, "a c ", 50, 60),
		}, porcupine.Ok},
		{"an append refused at the right revision", []porcupine.Operation{
			appendOp(0, eventstore.NoStream, "a ", 1, rev(0), 0, 10),
			appendOp(0, eventstore.Exact(0), "b ", 1, wrong, 20, 30),
		}, porcupine.Illegal},
		{"a wrong next revision reported", []porcupine.Operation{
			appendOp(0, eventstore.Any, "a b ", 2, rev(0), 0, 10),
		}, porcupine.Illegal},
		{"no stream on an existing stream accepted", []porcupine.Operation{
			appendOp(0, eventstore.Any, "a ", 1, rev(0), 0, 10),
			appendOp(0, eventstore.NoStream, "b ", 1, rev(1), 20, 30),
		}, porcupine.Illegal},
		{"an append of unknown outcome that took effect", []porcupine.Operation{
			appendOp(0, eventstore.NoStream, "a ", 1, unknown, 0, end),
			readOp(0, "a ", 20, 30),
		}, porcupine.Ok},
		{"an append of unknown outcome that did not", []porcupine.Operation{
			appendOp(0, eventstore.NoStream, "a ", 1, unknown, 0, end),
			readOp(0, "", 20, 30),
			appendOp(0, eventstore.NoStream, "b ", 1, rev(0), 40, 50),
			readOp(0, "b ", 60, 70),
		}, porcupine.Ok},
		{"an append of unknown outcome seen, then gone", []porcupine.Operation{
			appendOp(0, eventstore.NoStream, "a ", 1, unknown, 0, end),
			readOp(0, "a ", 20, 30),
			readOp(0, "", 40, 50),
		}, porcupine.Illegal},
		{"streams are independent", []porcupine.Operation{
			appendOp(0, eventstore.NoStream, "a ", 1, rev(0), 0, 10),
			appendOp(1, eventstore.NoStream, "b ", 1, rev(0), 0, 10),
			readOp(0, "a ", 20, 30),
			readOp(1, "b ", 20, 30),
		}, porcupine.Ok},
		{"a read of one stream shows another's event", []porcupine.Operation{
			appendOp(0, eventstore.NoStream, "a ", 1, rev(0), 0, 10),
			readOp(1, "a ", 20, 30),
		}, porcupine.Illegal},
	}
	for _, tc := range cases {
		if got := porcupine.CheckOperationsTimeout(linModel, tc.history, time.Second); got != tc.want {
			t.Errorf("%s: got %s, want %s", tc.name, got, tc.want)
		}
	}
}
