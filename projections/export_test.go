package projections

// LingerChunk is lingerChunk, for the tests.
const LingerChunk = lingerChunk

// WaitBackground waits for the rebuilds under way and the drops of the
// generations they replaced.
func (r *Runner) WaitBackground() { r.rebuilds.Wait() }
