package domain

// Personal is an event that carries personal data: fields that identify a
// person and that the person may have erased. The domain only says which
// fields they are; the application stores them encrypted with a key kept
// per person, outside the event log, and erases them by destroying that
// key (crypto-shredding), so the log itself is never rewritten.
type Personal interface {
	Event
	// MapPersonal returns a copy of the event whose personal fields are
	// replaced by f of their values, or f's first error. The event itself
	// is left as it was: the same event is applied to states after it is
	// stored.
	MapPersonal(f func(string) (string, error)) (Event, error)
}

// Erased is what a personal field reads once its person's data was
// erased: the event still decodes and the history still replays, but the
// value is gone for good. A field that was never set stays empty.
const Erased = "[erased]"
