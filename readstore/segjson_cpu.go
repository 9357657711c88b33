package readstore

import (
	asmcpu "github.com/segmentio/asm/cpu"
	"github.com/segmentio/asm/cpu/x86"
)

// segmentio/encoding/json (segjson, see bind) checks the bytes of every
// document it parses or validates with github.com/segmentio/asm's ASCII
// routines. Their AVX2 versions return with the upper halves of the YMM
// registers dirty (no VZEROUPPER), and the SSE instructions Go's code is
// full of pay for that mixed state until something clears it. On the
// Xeon the benchmarks run on, segjson.Valid of a ticket took 560–590 ns
// with them and 335–345 ns with the package's own word-at-a-time
// versions, and decoding a ticket.opened 0.81 µs against 0.51 µs. A
// rebuild of 1,000,000 ticket events, four alternating pairs: 10.4–10.9
// s of CPU against 9.6–10.1 s, 133,500–138,300 events/s against
// 143,200–145,500 in three, 148,900 against 148,800 in the fourth. Creates
// over HTTP did not move. So the package is told that the processor has no
// AVX2, before anything runs: process-wide, like the memory statistics
// (sqlite_memstatus.go), and from both stores, which every binary that
// uses segjson links. The asm package's other AVX2 routines (base64,
// which segjson uses for []byte fields only) end with VZEROUPPER and lose
// little.
func init() { asmcpu.X86 &^= x86.CPU(x86.AVX2) }
