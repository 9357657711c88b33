package esdbtest

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/EventStore/EventStore-Client-Go/v4/protos/shared"
	api "github.com/EventStore/EventStore-Client-Go/v4/protos/streams"
	"github.com/google/uuid"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
)

// Limits and constants of the real server that the double keeps.
const (
	// maxLogRecordSize is TFConsts.MaxLogRecordSize and
	// effectiveMaxLogRecordSize the largest event it leaves room for: the
	// default MaxAppendEventSize, and the gRPC receive limit of the
	// Streams service.
	maxLogRecordSize          = 16 * 1024 * 1024
	effectiveMaxLogRecordSize = maxLogRecordSize - 10000
	// defaultMaxAppendSize is KurrentDB's default MaxAppendSize since 26.0
	// (TFConsts.ChunkSize); up to 25.x it was 1 MiB.
	defaultMaxAppendSize = 256 * 1024 * 1024
	// readBatchSize is Enumerator.DefaultReadBatchSize: the page size of
	// catch-up reads, and the search window of a filter that sets none.
	readBatchSize = 32
	// livePage bounds how many new records a live subscription takes from
	// the log at once; it changes nothing a client can see.
	livePage = 256
)

// Metadata keys and content types of the gRPC protocol (Constants.Metadata).
const (
	metaType        = "type"
	metaCreated     = "created"
	metaContentType = "content-type"
	contentJSON     = "application/json"
	contentBinary   = "application/octet-stream"
)

// streamsServer implements the event_store.client.streams.Streams service.
type streamsServer struct {
	api.UnimplementedStreamsServer
	log *eventLog
	cfg Config
}

// Append implements the client-streaming append: one options message, then
// one message per event, answered once the client half-closes. A wrong
// expected version is a normal response, not a gRPC error, as in
// KurrentDB's Streams.Append.cs.
func (s *streamsServer) Append(stream api.Streams_AppendServer) error {
	first, err := stream.Recv()
	if err != nil {
		return err
	}
	opts := first.GetOptions()
	if opts == nil {
		return status.Error(codes.InvalidArgument, "the first append message must carry the options")
	}
	name := string(opts.GetStreamIdentifier().GetStreamName())
	if name == "" {
		return status.Error(codes.InvalidArgument, "stream name is empty")
	}
	var expected int64
	switch e := opts.GetExpectedStreamRevision().(type) {
	case *api.AppendReq_Options_Any:
		expected = expectAny
	case *api.AppendReq_Options_NoStream:
		expected = expectNoStream
	case *api.AppendReq_Options_StreamExists:
		expected = expectStreamExists
	case *api.AppendReq_Options_Revision:
		if e.Revision > maxRevision {
			return status.Errorf(codes.InvalidArgument, "expected revision %d is out of range", e.Revision)
		}
		expected = int64(e.Revision)
	default:
		return status.Errorf(codes.InvalidArgument, "'%v' is not a valid expected stream revision", e)
	}

	var events []proposed
	total := 0
	for {
		req, err := stream.Recv()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return err
		}
		msg := req.GetProposedMessage()
		if msg == nil {
			return status.Error(codes.InvalidArgument, "an append message after the options must be a proposed message")
		}
		typ, ok := msg.GetMetadata()[metaType]
		if !ok {
			return missingMetadata(stream, metaType)
		}
		contentType, ok := msg.GetMetadata()[metaContentType]
		if !ok {
			return missingMetadata(stream, metaContentType)
		}
		id, err := fromProtoUUID(msg.GetId())
		if err != nil {
			return status.Errorf(codes.InvalidArgument, "event id: %v", err)
		}
		// Event.SizeOnDisk counts the type in UTF-16 code units.
		size := len(msg.GetData()) + len(msg.GetCustomMetadata()) + 2*len([]rune(typ))
		if size > s.cfg.MaxAppendEventSize {
			stream.SetTrailer(metadata.Pairs(
				"exception", "maximum-append-event-size-exceeded",
				"maximum-append-event-size", strconv.Itoa(s.cfg.MaxAppendEventSize),
				"event-id", id.String(),
				"proposed-append-event-size", strconv.Itoa(size)))
			return status.Errorf(codes.InvalidArgument, "Event with Id: %s, Size: %d, exceeds Maximum Append Event Size of %d.",
				id, size, s.cfg.MaxAppendEventSize)
		}
		total += size
		if total > s.cfg.MaxAppendSize {
			stream.SetTrailer(metadata.Pairs(
				"exception", "maximum-append-size-exceeded",
				"maximum-append-size", strconv.Itoa(s.cfg.MaxAppendSize)))
			return status.Errorf(codes.InvalidArgument, "Maximum Append Size of %d Exceeded.", s.cfg.MaxAppendSize)
		}
		events = append(events, proposed{
			id:   id,
			typ:  typ,
			json: contentType == contentJSON,
			data: msg.GetData(),
			meta: msg.GetCustomMetadata(),
		})
	}
	if err := stream.Context().Err(); err != nil {
		return status.FromContextError(err).Err()
	}

	res := s.log.append(name, expected, events, time.Now())
	if res.ok {
		success := &api.AppendResp_Success{}
		if res.last < 0 {
			success.CurrentRevisionOption = &api.AppendResp_Success_NoStream{NoStream: &shared.Empty{}}
		} else {
			success.CurrentRevisionOption = &api.AppendResp_Success_CurrentRevision{CurrentRevision: uint64(res.last)}
		}
		// WriteEvents reports the commit position as both parts
		// ("not technically correct, but matches current behavior").
		success.PositionOption = &api.AppendResp_Success_Position{
			Position: &api.AppendResp_Position{CommitPosition: res.pos, PreparePosition: res.pos},
		}
		return stream.SendAndClose(&api.AppendResp{Result: &api.AppendResp_Success_{Success: success}})
	}
	return stream.SendAndClose(&api.AppendResp{
		Result: &api.AppendResp_WrongExpectedVersion_{WrongExpectedVersion: wrongExpectedVersion(expected, res.current)},
	})
}

// wrongExpectedVersion fills both the current and the 20.6.0 fields, as the
// real server does.
func wrongExpectedVersion(expected, current int64) *api.AppendResp_WrongExpectedVersion {
	w := &api.AppendResp_WrongExpectedVersion{}
	switch expected {
	case expectAny:
		w.ExpectedRevisionOption = &api.AppendResp_WrongExpectedVersion_ExpectedAny{ExpectedAny: &shared.Empty{}}
		w.ExpectedRevisionOption_20_6_0 = &api.AppendResp_WrongExpectedVersion_Any_20_6_0{Any_20_6_0: &shared.Empty{}}
	case expectStreamExists:
		w.ExpectedRevisionOption = &api.AppendResp_WrongExpectedVersion_ExpectedStreamExists{ExpectedStreamExists: &shared.Empty{}}
		w.ExpectedRevisionOption_20_6_0 = &api.AppendResp_WrongExpectedVersion_StreamExists_20_6_0{StreamExists_20_6_0: &shared.Empty{}}
	case expectNoStream:
		w.ExpectedRevisionOption = &api.AppendResp_WrongExpectedVersion_ExpectedNoStream{ExpectedNoStream: &shared.Empty{}}
		w.ExpectedRevisionOption_20_6_0 = &api.AppendResp_WrongExpectedVersion_ExpectedRevision_20_6_0{ExpectedRevision_20_6_0: math.MaxUint64}
	default:
		w.ExpectedRevisionOption = &api.AppendResp_WrongExpectedVersion_ExpectedRevision{ExpectedRevision: uint64(expected)}
		w.ExpectedRevisionOption_20_6_0 = &api.AppendResp_WrongExpectedVersion_ExpectedRevision_20_6_0{ExpectedRevision_20_6_0: uint64(expected)}
	}
	if current < 0 {
		w.CurrentRevisionOption = &api.AppendResp_WrongExpectedVersion_CurrentNoStream{CurrentNoStream: &shared.Empty{}}
		w.CurrentRevisionOption_20_6_0 = &api.AppendResp_WrongExpectedVersion_NoStream_20_6_0{NoStream_20_6_0: &shared.Empty{}}
	} else {
		w.CurrentRevisionOption = &api.AppendResp_WrongExpectedVersion_CurrentRevision{CurrentRevision: uint64(current)}
		w.CurrentRevisionOption_20_6_0 = &api.AppendResp_WrongExpectedVersion_CurrentRevision_20_6_0{CurrentRevision_20_6_0: uint64(current)}
	}
	return w
}

func missingMetadata(stream grpc.ServerStream, key string) error {
	stream.SetTrailer(metadata.Pairs(
		"exception", "missing-required-metadata-property",
		"required-metadata-properties", metaType+","+metaContentType))
	return status.Errorf(codes.InvalidArgument, "Required Metadata Property '%s' is missing", key)
}

// Read implements reads and subscriptions: the combination of stream or
// $all, count or subscription, direction and filter picks what happens,
// as in KurrentDB's Streams.Read.cs CreateEnumerator.
func (s *streamsServer) Read(req *api.ReadReq, out api.Streams_ReadServer) error {
	o := req.GetOptions()
	if o == nil {
		return status.Error(codes.InvalidArgument, "'options' is a required argument")
	}
	if o.GetUuidOption() == nil {
		return status.Error(codes.InvalidArgument, "'uuidOption' is a required argument")
	}
	w := &writer{out: out, asString: o.GetUuidOption().GetString_() != nil, lastCheckpoint: headOfTF}
	forwards := o.GetReadDirection() == api.ReadReq_Options_Forwards
	_, subscription := o.GetCountOption().(*api.ReadReq_Options_Subscription)
	var filter *eventFilter
	if f := o.GetFilter(); f != nil {
		var err error
		if filter, err = newEventFilter(f); err != nil {
			return err
		}
	}

	switch {
	case o.GetStream() != nil && !subscription && filter == nil:
		return s.readStream(o, w, forwards)
	case o.GetAll() != nil && !subscription:
		return s.readAll(o, w, forwards, filter)
	case o.GetAll() != nil && subscription && forwards:
		return s.subscribeToAll(out.Context(), o.GetAll(), w, filter)
	case o.GetStream() != nil && subscription && forwards && filter == nil:
		return s.subscribeToStream(out.Context(), o.GetStream(), w)
	}
	return status.Errorf(codes.InvalidArgument, "the combination of (stream %t, subscription %t, forwards %t, filter %t) is invalid",
		o.GetStream() != nil, subscription, forwards, filter != nil)
}

func (s *streamsServer) readStream(o *api.ReadReq_Options, w *writer, forwards bool) error {
	so := o.GetStream()
	name := string(so.GetStreamIdentifier().GetStreamName())
	var from uint64
	switch r := so.GetRevisionOption().(type) {
	case *api.ReadReq_Options_StreamOptions_Start:
		from = 0
	case *api.ReadReq_Options_StreamOptions_End:
		from = math.MaxUint64
	case *api.ReadReq_Options_StreamOptions_Revision:
		from = r.Revision
	default:
		return status.Error(codes.InvalidArgument, "stream read without a revision option")
	}
	records, found := s.log.readStream(name, from, o.GetCount(), forwards)
	if !found {
		return w.out.Send(&api.ReadResp{Content: &api.ReadResp_StreamNotFound_{StreamNotFound: &api.ReadResp_StreamNotFound{
			StreamIdentifier: &shared.StreamIdentifier{StreamName: []byte(name)},
		}}})
	}
	for _, r := range records {
		if err := w.event(r); err != nil {
			return err
		}
	}
	return nil
}

func (s *streamsServer) readAll(o *api.ReadReq_Options, w *writer, forwards bool, filter *eventFilter) error {
	var from tfPos
	switch p := o.GetAll().GetAllOption().(type) {
	case *api.ReadReq_Options_AllOptions_Start:
		from = tfPos{0, 0}
	case *api.ReadReq_Options_AllOptions_End:
		from = tfPos{math.MaxInt64, math.MaxInt64}
	case *api.ReadReq_Options_AllOptions_Position:
		var err error
		if from, err = toTFPos(p.Position.GetCommitPosition(), p.Position.GetPreparePosition()); err != nil {
			return err
		}
	default:
		return status.Error(codes.InvalidArgument, "$all read without a position option")
	}
	allow := defaultAllFilter
	if filter != nil {
		allow = filter.allows
	}
	var records []*record
	if forwards {
		records = s.log.readAllForwards(from, o.GetCount(), allow)
	} else {
		records = s.log.readAllBackwards(from, o.GetCount(), allow)
	}
	for _, r := range records {
		if err := w.event(r); err != nil {
			return err
		}
	}
	return nil
}

// toTFPos checks a position from a client: the real server's Position
// constructor refuses a commit position before the prepare position.
func toTFPos(commit, prepare uint64) (tfPos, error) {
	if commit < prepare {
		return tfPos{}, status.Error(codes.InvalidArgument, "the commit position cannot be less than the prepare position")
	}
	if commit > math.MaxInt64 || prepare > math.MaxInt64 {
		return tfPos{math.MaxInt64, math.MaxInt64}, nil
	}
	return tfPos{int64(commit), int64(prepare)}, nil
}

// subscribeToAll runs a catch-up subscription to $all until the client
// goes away. It follows Enumerator.AllSubscription(Filtered): confirm;
// unless the start is at or past the end, catch up by reading pages;
// report that it caught up; then send live events in order. The real
// server also sends a caught-up message again after falling behind (its
// live buffer of 32 overflowing); the double reads live events straight
// from the log and never falls behind.
func (s *streamsServer) subscribeToAll(ctx context.Context, ao *api.ReadReq_Options_AllOptions, w *writer, filter *eventFilter) error {
	// The real server registers the live subscription before confirming;
	// its checkpoint counter counts the events appended from then on.
	registered := s.log.length()
	if err := w.confirm(); err != nil {
		return err
	}
	last := s.log.lastPosition()
	checkpoint := headOfTF
	switch p := ao.GetAllOption().(type) {
	case *api.ReadReq_Options_AllOptions_Start:
	case *api.ReadReq_Options_AllOptions_End:
		checkpoint = last
	case *api.ReadReq_Options_AllOptions_Position:
		var err error
		if checkpoint, err = toTFPos(p.Position.GetCommitPosition(), p.Position.GetPreparePosition()); err != nil {
			return err
		}
	default:
		return status.Error(codes.InvalidArgument, "$all subscription without a position option")
	}

	if filter == nil {
		// AllSubscription: no checkpoints, the default $all filter.
		return s.tail(ctx, w, s.log.indexAfter(checkpoint), defaultAllFilter)
	}
	var err error
	if checkpoint.less(last) {
		if checkpoint, err = s.catchUpFiltered(ctx, w, checkpoint, filter); err != nil {
			return err
		}
	}
	return s.liveFiltered(ctx, w, checkpoint, filter, registered)
}

// catchUpFiltered is AllSubscriptionFiltered.CatchUp: read pages forwards
// from the checkpoint, each considering at most the filter's window of
// events and keeping at most 32 that pass; send the passing events after
// the checkpoint; move the checkpoint to the page's start when that is
// later than the last event sent; send a checkpoint once the events
// considered since the last one reach window × multiplier, and one when
// the end is reached. It returns the checkpoint to go live from.
func (s *streamsServer) catchUpFiltered(ctx context.Context, w *writer, checkpoint tfPos, f *eventFilter) (tfPos, error) {
	pagePos := checkpoint
	if pagePos.commit < 0 && pagePos.prepare < 0 {
		pagePos = firstRecordOfTF
	}
	considered := 0
	for {
		if err := ctx.Err(); err != nil {
			return checkpoint, status.FromContextError(err).Err()
		}
		records, _ := s.log.page(s.log.index(pagePos), f.window)
		n, kept := 0, 0
		nextPos := pagePos
		for _, r := range records {
			if kept == readBatchSize {
				break
			}
			n++
			nextPos = tfPos{int64(r.post), 0}
			if !f.allows(r) {
				continue
			}
			kept++
			if checkpoint.less(r.at()) {
				if err := w.event(r); err != nil {
					return checkpoint, err
				}
				checkpoint = r.at()
			}
		}
		// The read stops at the end of the log only when neither the
		// page size nor the window stopped it first.
		endOfStream := kept < readBatchSize && n < f.window
		if checkpoint.less(pagePos) && pagePos.less(nextPos) {
			checkpoint = pagePos
		}
		considered += n
		if endOfStream {
			if checkpoint.less(firstRecordOfTF) && firstRecordOfTF.less(nextPos) {
				checkpoint = firstRecordOfTF
			}
			return checkpoint, w.checkpoint(checkpoint)
		}
		if considered >= f.interval {
			considered %= f.interval
			if err := w.checkpoint(checkpoint); err != nil {
				return checkpoint, err
			}
		}
		pagePos = nextPos
	}
}

// liveFiltered is AllSubscriptionFiltered.GoLive: report that the
// subscription caught up, then send each new event that passes the filter,
// and a checkpoint at the position of every window × multiplier-th event
// appended since the subscription registered, passing or not
// (SubscriptionsService.ProcessEventCommitted counts them; GoLive drops
// the checkpoints its catch-up already passed).
func (s *streamsServer) liveFiltered(ctx context.Context, w *writer, checkpoint tfPos, f *eventFilter, registered int) error {
	if err := s.caughtUp(w); err != nil {
		return err
	}
	i := s.log.indexAfter(checkpoint)
	for {
		records, grew := s.log.page(i, livePage)
		if len(records) == 0 {
			select {
			case <-grew:
				continue
			case <-ctx.Done():
				return status.FromContextError(ctx.Err()).Err()
			}
		}
		for _, r := range records {
			n := i - registered + 1 // events counted up to r
			i++
			if f.allows(r) && checkpoint.less(r.at()) {
				if err := w.event(r); err != nil {
					return err
				}
				checkpoint = r.at()
			}
			if n > 0 && n%f.interval == 0 && !r.at().less(checkpoint) {
				checkpoint = r.at()
				if err := w.checkpoint(checkpoint); err != nil {
					return err
				}
			}
		}
	}
}

// subscribeToStream runs a catch-up subscription to one stream: events
// after the given revision (from the start: all; from the end: only new
// ones), a caught-up message, then live events.
func (s *streamsServer) subscribeToStream(ctx context.Context, so *api.ReadReq_Options_StreamOptions, w *writer) error {
	if err := w.confirm(); err != nil {
		return err
	}
	name := string(so.GetStreamIdentifier().GetStreamName())
	after := int64(-1)
	switch r := so.GetRevisionOption().(type) {
	case *api.ReadReq_Options_StreamOptions_Start:
	case *api.ReadReq_Options_StreamOptions_End:
		after = s.log.lastRevision(name)
	case *api.ReadReq_Options_StreamOptions_Revision:
		if r.Revision > maxRevision {
			return status.Errorf(codes.InvalidArgument, "revision %d is out of range", r.Revision)
		}
		after = int64(r.Revision)
	default:
		return status.Error(codes.InvalidArgument, "stream subscription without a revision option")
	}
	allow := func(r *record) bool { return r.stream == name && int64(r.revision) > after }
	return s.tail(ctx, w, 0, allow)
}

// tail sends the records from index i on that allow passes: those stored
// now (catch-up), a caught-up message, then new ones as they come.
func (s *streamsServer) tail(ctx context.Context, w *writer, i int, allow func(*record) bool) error {
	s.log.mu.RLock()
	end := len(s.log.records)
	s.log.mu.RUnlock()
	live := false
	for {
		if !live && i >= end {
			live = true
			if err := s.caughtUp(w); err != nil {
				return err
			}
		}
		limit := livePage
		if !live {
			limit = min(livePage, end-i)
		}
		records, grew := s.log.page(i, limit)
		if len(records) == 0 {
			select {
			case <-grew:
				continue
			case <-ctx.Done():
				return status.FromContextError(ctx.Err()).Err()
			}
		}
		for _, r := range records {
			i++
			if allow(r) {
				if err := w.event(r); err != nil {
					return err
				}
			}
		}
	}
}

func (s *streamsServer) caughtUp(w *writer) error {
	if s.cfg.OmitCaughtUp {
		return nil
	}
	return w.out.Send(&api.ReadResp{Content: &api.ReadResp_CaughtUp_{CaughtUp: &api.ReadResp_CaughtUp{}}})
}

// length returns the number of records in the log.
func (l *eventLog) length() int {
	l.mu.RLock()
	defer l.mu.RUnlock()
	return len(l.records)
}

// indexAfter returns the index of the first record whose position is after p.
func (l *eventLog) indexAfter(p tfPos) int {
	l.mu.RLock()
	defer l.mu.RUnlock()
	return sort.Search(len(l.records), func(i int) bool { return p.less(l.records[i].at()) })
}

// writer sends read responses.
type writer struct {
	out      api.Streams_ReadServer
	asString bool
	// lastCheckpoint is the last checkpoint sent: the real enumerator
	// drops a checkpoint at or before it (AllSubscriptionFiltered.MoveNextAsync).
	lastCheckpoint tfPos
}

func (w *writer) confirm() error {
	return w.out.Send(&api.ReadResp{Content: &api.ReadResp_Confirmation{
		Confirmation: &api.ReadResp_SubscriptionConfirmation{SubscriptionId: uuid.NewString()},
	}})
}

func (w *writer) checkpoint(p tfPos) error {
	if p == headOfTF || !w.lastCheckpoint.less(p) {
		return nil
	}
	w.lastCheckpoint = p
	return w.out.Send(&api.ReadResp{Content: &api.ReadResp_Checkpoint_{Checkpoint: &api.ReadResp_Checkpoint{
		CommitPosition: uint64(p.commit), PreparePosition: uint64(p.prepare),
	}}})
}

// event sends r as the real server converts an event record
// (ResponseConverter.ConvertToRecordedEvent): the three required metadata
// keys, the custom metadata and data as stored, and its position, which
// every event written with an implicit transaction has, on stream reads too.
func (w *writer) event(r *record) error {
	contentType := contentBinary
	if r.json {
		contentType = contentJSON
	}
	return w.out.Send(&api.ReadResp{Content: &api.ReadResp_Event{Event: &api.ReadResp_ReadEvent{
		Event: &api.ReadResp_ReadEvent_RecordedEvent{
			Id:               toProtoUUID(r.id, w.asString),
			StreamIdentifier: &shared.StreamIdentifier{StreamName: []byte(r.stream)},
			StreamRevision:   r.revision,
			PreparePosition:  r.pos,
			CommitPosition:   r.pos,
			Metadata: map[string]string{
				metaType:        r.typ,
				metaCreated:     strconv.FormatInt(r.created, 10),
				metaContentType: contentType,
			},
			CustomMetadata: r.meta,
			Data:           r.data,
		},
		Position: &api.ReadResp_ReadEvent_CommitPosition{CommitPosition: r.pos},
	}}})
}

// eventFilter is a server-side filter of $all (EventFilter.StreamName /
// EventType, Prefixes or Regex) on top of the default $all filter. Regular
// expressions are Go's RE2, not .NET's; the simple ones clients send mean
// the same in both.
type eventFilter struct {
	onType   bool
	prefixes []string
	re       *regexp.Regexp
	// window is the most events a catch-up page considers; interval is
	// window × checkpointIntervalMultiplier, the number of events
	// considered between two checkpoints.
	window, interval int
}

func newEventFilter(f *api.ReadReq_Options_FilterOptions) (*eventFilter, error) {
	var expr *api.ReadReq_Options_FilterOptions_Expression
	ef := &eventFilter{}
	switch x := f.GetFilter().(type) {
	case *api.ReadReq_Options_FilterOptions_StreamIdentifier:
		expr = x.StreamIdentifier
	case *api.ReadReq_Options_FilterOptions_EventType:
		expr, ef.onType = x.EventType, true
	default:
		return nil, status.Error(codes.InvalidArgument, "filter without a stream identifier or event type expression")
	}
	if expr.GetRegex() != "" {
		re, err := regexp.Compile(expr.GetRegex())
		if err != nil {
			return nil, status.Errorf(codes.InvalidArgument, "filter regex: %v", err)
		}
		ef.re = re
	} else {
		ef.prefixes = expr.GetPrefix()
	}
	switch w := f.GetWindow().(type) {
	case *api.ReadReq_Options_FilterOptions_Max:
		if w.Max == 0 {
			return nil, status.Error(codes.InvalidArgument, "filter window max must be positive")
		}
		ef.window = int(w.Max)
	case *api.ReadReq_Options_FilterOptions_Count:
		ef.window = readBatchSize
	default:
		return nil, status.Errorf(codes.InvalidArgument, "'%v' is not a valid filter window", w)
	}
	if f.GetCheckpointIntervalMultiplier() == 0 {
		return nil, status.Error(codes.InvalidArgument, "checkpointIntervalMultiplier must not be zero")
	}
	ef.interval = ef.window * int(f.GetCheckpointIntervalMultiplier())
	return ef, nil
}

func (f *eventFilter) allows(r *record) bool {
	if !defaultAllFilter(r) {
		return false
	}
	s := r.stream
	if f.onType {
		s = r.typ
	}
	if f.re != nil {
		return f.re.MatchString(s)
	}
	for _, p := range f.prefixes {
		if strings.HasPrefix(s, p) {
			return true
		}
	}
	return false
}

// toProtoUUID encodes id as the client asked: structured (two big-endian
// halves, the client's UUIDAsInt64) or as a string.
func toProtoUUID(id uuid.UUID, asString bool) *shared.UUID {
	if asString {
		return &shared.UUID{Value: &shared.UUID_String_{String_: id.String()}}
	}
	return &shared.UUID{Value: &shared.UUID_Structured_{Structured: &shared.UUID_Structured{
		MostSignificantBits:  int64(binary.BigEndian.Uint64(id[:8])),
		LeastSignificantBits: int64(binary.BigEndian.Uint64(id[8:])),
	}}}
}

func fromProtoUUID(u *shared.UUID) (uuid.UUID, error) {
	switch v := u.GetValue().(type) {
	case *shared.UUID_Structured_:
		var id uuid.UUID
		binary.BigEndian.PutUint64(id[:8], uint64(v.Structured.GetMostSignificantBits()))
		binary.BigEndian.PutUint64(id[8:], uint64(v.Structured.GetLeastSignificantBits()))
		return id, nil
	case *shared.UUID_String_:
		return uuid.Parse(v.String_)
	}
	return uuid.UUID{}, fmt.Errorf("missing")
}
