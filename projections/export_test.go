package projections

// LingerChunk is lingerChunk, for the tests.
const LingerChunk = lingerChunk
