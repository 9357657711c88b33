package eventstore

import (
	asmcpu "github.com/segmentio/asm/cpu"
	"github.com/segmentio/asm/cpu/x86"
)

// The JSON checks of appends run through segmentio/encoding/json, whose
// ASCII routines leave the processor's vector registers in a state that
// slows the SSE code after them when they use AVX2: see the same setting
// in package readstore (segjson_cpu.go) for what it cost. It is made here
// too so that a binary with the event store alone has it.
func init() { asmcpu.X86 &^= x86.CPU(x86.AVX2) }
