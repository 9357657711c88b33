package reactions

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/ThreeDotsLabs/watermill"
	"github.com/ThreeDotsLabs/watermill/message"
	"github.com/ThreeDotsLabs/watermill/message/router/middleware"
)

// Parked is a message that still failed after its retries.
type Parked struct {
	// ID is "<reaction>.<event id>": an event parks once per reaction.
	ID        string    `json:"id"`
	Reaction  string    `json:"reaction"`
	Topic     string    `json:"topic"`
	EventID   string    `json:"event_id"`
	EventType string    `json:"event_type"`
	StreamID  string    `json:"stream_id"`
	CompanyID string    `json:"company_id"`
	Error     string    `json:"error"`
	ParkedAt  time.Time `json:"parked_at"`
	// Replays counts how often it was replayed and parked again.
	Replays  int               `json:"replays"`
	Payload  json.RawMessage   `json:"payload"`
	Metadata map[string]string `json:"metadata"`
}

// ErrNotParked is returned for a parked message that does not exist.
var ErrNotParked = errors.New("no such parked message")

// Parking keeps parked messages. Implementations are safe for concurrent
// use.
type Parking interface {
	// Park stores p, replacing a parked message with the same ID.
	Park(ctx context.Context, p Parked) error
	// Parked returns the parked message id, or an error that errors.Is
	// ErrNotParked.
	Parked(ctx context.Context, id string) (Parked, error)
	// Unpark removes the parked message id; removing none is no error.
	Unpark(ctx context.Context, id string) error
	// CountParked counts reaction's parked messages.
	CountParked(ctx context.Context, reaction string) (int, error)
}

// park stores a message the poison queue set aside.
func (s *Service) park(msg *message.Message) error {
	ctx := msg.Context()
	md := msg.Metadata
	p := Parked{
		ID:        md.Get(MetaReaction) + "." + md.Get(MetaEventID),
		Reaction:  md.Get(MetaReaction),
		Topic:     md.Get(middleware.PoisonedTopicKey),
		EventID:   md.Get(MetaEventID),
		EventType: md.Get(MetaEventType),
		StreamID:  md.Get(MetaStreamID),
		CompanyID: md.Get(MetaCompanyID),
		Error:     md.Get(middleware.ReasonForPoisonedKey),
		ParkedAt:  s.cfg.Now().UTC(),
		Payload:   json.RawMessage(msg.Payload),
		Metadata:  map[string]string{},
	}
	if !json.Valid(p.Payload) {
		p.Payload, _ = json.Marshal(string(msg.Payload))
	}
	if prev, err := s.cfg.Parking.Parked(ctx, p.ID); err == nil {
		p.Replays = prev.Replays
	}
	if md.Get(metaReplay) != "" {
		p.Replays++
	}
	for k, v := range md {
		p.Metadata[k] = v
	}
	if err := s.cfg.Parking.Park(ctx, p); err != nil {
		return fmt.Errorf("park %s: %w", p.ID, err)
	}
	s.log.Warn("reaction message parked after its retries", "reaction", p.Reaction, "event_id", p.EventID, "event_type", p.EventType, "err", p.Error)
	return nil
}

// ErrNotRunning is returned by Replay while the service is not running
// (starting, or starting again after a failure).
var ErrNotRunning = errors.New("reactions are not running; try again shortly")

// metaReplay marks a replayed message.
const metaReplay = "replay"

// ReplayResult tells how a replay went.
type ReplayResult struct {
	ID string `json:"id"`
	// Status is "handled" (the message went through and is no longer
	// parked), "parked" (it failed again; Error says why) or "published"
	// (handed to a broker that handles it later).
	Status string `json:"status"`
	Error  string `json:"error,omitempty"`
}

// Replay publishes the parked message id again on its topic, with a new
// message UUID (a broker that remembers UUIDs would drop the old one).
// On the in-process GoChannel it returns once the message is handled or
// parked again.
func (s *Service) Replay(ctx context.Context, id string) (ReplayResult, error) {
	p, err := s.cfg.Parking.Parked(ctx, id)
	if err != nil {
		return ReplayResult{}, err
	}
	select {
	case <-s.ready:
	default:
		return ReplayResult{}, ErrNotRunning
	}
	msg := message.NewMessage(watermill.NewUUID(), []byte(p.Payload))
	for k, v := range p.Metadata {
		switch k {
		case middleware.ReasonForPoisonedKey, middleware.PoisonedTopicKey, middleware.PoisonedHandlerKey, middleware.PoisonedSubscriberKey:
		default:
			msg.Metadata.Set(k, v)
		}
	}
	msg.Metadata.Set(metaReplay, "1")
	topic := p.Topic
	if topic == "" {
		return ReplayResult{}, fmt.Errorf("parked message %s has no topic", id)
	}
	if err := s.cfg.Parking.Unpark(ctx, id); err != nil {
		return ReplayResult{}, err
	}
	if err := s.cfg.PubSub.Publisher.Publish(topic, msg); err != nil {
		// Put it back as it was: nothing is lost.
		return ReplayResult{}, errors.Join(fmt.Errorf("publish to %s: %w", topic, err), s.cfg.Parking.Park(context.WithoutCancel(ctx), p))
	}
	if s.cfg.PubSub.Kind != "gochannel" {
		return ReplayResult{ID: id, Status: "published"}, nil
	}
	again, err := s.cfg.Parking.Parked(ctx, id)
	switch {
	case errors.Is(err, ErrNotParked):
		return ReplayResult{ID: id, Status: "handled"}, nil
	case err != nil:
		return ReplayResult{}, err
	}
	return ReplayResult{ID: id, Status: "parked", Error: again.Error}, nil
}
