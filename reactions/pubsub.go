package reactions

import (
	"errors"
	"fmt"
	"log/slog"
	"time"

	wmnats "github.com/ThreeDotsLabs/watermill-nats/v2/pkg/nats"
	"github.com/ThreeDotsLabs/watermill/message"
	"github.com/ThreeDotsLabs/watermill/pubsub/gochannel"
	"github.com/nats-io/nats.go"
)

// PubSub is the Watermill publisher and subscriber the reactions' messages
// go through.
type PubSub struct {
	Publisher  message.Publisher
	Subscriber message.Subscriber
	// Kind names the transport for logs and status: "gochannel", "nats".
	Kind  string
	close func() error
}

// Close closes the publisher and the subscriber.
func (p *PubSub) Close() error {
	if p.close == nil {
		return nil
	}
	return p.close()
}

// NewGoChannel returns Watermill's in-process GoChannel, the default.
// Publishing blocks until the message is handled (acknowledged), so a
// forwarder's checkpoint never passes a message that a crash could lose:
// nothing of GoChannel survives the process.
func NewGoChannel(log *slog.Logger) *PubSub {
	ch := gochannel.NewGoChannel(gochannel.Config{BlockPublishUntilSubscriberAck: true}, watermillLogger{log})
	return &PubSub{Publisher: ch, Subscriber: ch, Kind: "gochannel", close: ch.Close}
}

// NATSConfig configures NewNATS.
type NATSConfig struct {
	// URL is the NATS server, e.g. nats://127.0.0.1:4222; required.
	URL string
	// Group names the durable consumers and queue groups: processes with
	// the same Group share the work, each message going to one of them.
	// Default "agentdesk".
	Group string
	// AckWait is how long a message may stay unacknowledged before NATS
	// delivers it again; default 30 s.
	AckWait time.Duration
	// Options are extra connection options (credentials, TLS).
	Options []nats.Option
}

// NewNATS returns a publisher and a subscriber on NATS JetStream. Each
// topic is a stream of its own, created when missing; publishing returns
// once JetStream has stored the message, which carries its UUID as the
// JetStream message id so that the same event published twice (two
// forwarders, or one starting again from its checkpoint) is stored once
// within the stream's duplicate window. Subscriptions are durable queue
// subscriptions, so several processes share each topic's messages and a
// process that comes back resumes where its group was.
func NewNATS(cfg NATSConfig, log *slog.Logger) (*PubSub, error) {
	if cfg.URL == "" {
		return nil, errors.New("reactions: NATS URL is required")
	}
	if cfg.Group == "" {
		cfg.Group = "agentdesk"
	}
	if cfg.AckWait == 0 {
		cfg.AckWait = 30 * time.Second
	}
	opts := append([]nats.Option{nats.Name("agentdesk"), nats.MaxReconnects(-1), nats.RetryOnFailedConnect(true)}, cfg.Options...)
	js := wmnats.JetStreamConfig{
		AutoProvision: true,
		TrackMsgId:    true,
		// Acknowledged only once the handler is done with it.
		SubscribeOptions: []nats.SubOpt{nats.DeliverAll(), nats.AckExplicit(), nats.ManualAck()},
		PublishOptions:   nil,
		DurablePrefix:    cfg.Group,
		// One durable consumer per topic and group.
		DurableCalculator: func(prefix, topic string) string { return prefix + "_" + topic },
	}
	marshaler := &wmnats.NATSMarshaler{}
	pub, err := wmnats.NewPublisher(wmnats.PublisherConfig{URL: cfg.URL, NatsOptions: opts, Marshaler: marshaler, JetStream: js}, watermillLogger{log})
	if err != nil {
		return nil, fmt.Errorf("reactions: NATS publisher: %w", err)
	}
	sub, err := wmnats.NewSubscriber(wmnats.SubscriberConfig{
		URL: cfg.URL, NatsOptions: opts, Unmarshaler: marshaler, JetStream: js,
		QueueGroupPrefix: cfg.Group, SubscribersCount: 1, AckWaitTimeout: cfg.AckWait,
		CloseTimeout: 10 * time.Second, SubscribeTimeout: 5 * time.Second,
	}, watermillLogger{log})
	if err != nil {
		pub.Close()
		return nil, fmt.Errorf("reactions: NATS subscriber: %w", err)
	}
	return &PubSub{Publisher: pub, Subscriber: sub, Kind: "nats", close: func() error {
		return errors.Join(sub.Close(), pub.Close())
	}}, nil
}
