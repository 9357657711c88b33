package reactions

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"agentdesk/commands"
	"agentdesk/domain"
	"agentdesk/domain/agent"
	"agentdesk/domain/company"
	"agentdesk/domain/user"
	"agentdesk/eventstore"
)

// OffboardingName names the company offboarding reaction.
const OffboardingName = "company_offboarding"

// MemberCommands is what offboarding needs of the command side.
type MemberCommands interface {
	DeactivateUser(ctx context.Context, m commands.Meta, id string) (commands.Result, error)
	DeactivateAgent(ctx context.Context, m commands.Meta, id string, expected *uint64) (commands.Result, error)
}

// Offboarding returns the reaction that offboards a deleted company: each
// of its users and agents is deactivated by a command of its own, so each
// one's history shows that the offboarding did it, and because of which
// deletion (the causation). The members are found in the event log
// itself, not in a read model that might lag behind the deletion.
func Offboarding(events eventstore.Store, cmds MemberCommands) Reaction {
	userCategory, agentCategory := eventstore.Category(user.Stream("")), eventstore.Category(agent.Stream(""))
	return Reaction{
		Name:   OffboardingName,
		Filter: eventstore.Filter{Types: []string{company.TypeDeleted}},
		Handle: func(ctx context.Context, ev eventstore.RecordedEvent) error {
			companyID := strings.TrimPrefix(ev.StreamID, company.Stream(""))
			users, agents, err := members(ctx, events, companyID, userCategory, agentCategory)
			if err != nil {
				return err
			}
			var errs []error
			for _, id := range users {
				_, err := cmds.DeactivateUser(ctx, Meta(OffboardingName, ev, "user/"+id), id)
				if !done(err) {
					errs = append(errs, fmt.Errorf("deactivate user %s: %w", id, err))
				}
			}
			for _, id := range agents {
				_, err := cmds.DeactivateAgent(ctx, Meta(OffboardingName, ev, "agent/"+id), id, nil)
				if !done(err) {
					errs = append(errs, fmt.Errorf("deactivate agent %s: %w", id, err))
				}
			}
			return errors.Join(errs...)
		},
	}
}

// done reports whether a command's error means there is nothing (more)
// to do: it succeeded, or its target is gone or already so.
func done(err error) bool {
	return err == nil || errors.Is(err, domain.ErrNotFound) || errors.Is(err, domain.ErrInvalidTransition)
}

// members lists the ids of the users and agents that ever belonged to
// companyID, reading the log up to its current end.
func members(ctx context.Context, events eventstore.Store, companyID, userCategory, agentCategory string) (users, agents []string, err error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	sub, err := events.Subscribe(ctx, eventstore.Start, eventstore.Filter{CompanyID: companyID, Categories: []string{userCategory, agentCategory}})
	if err != nil {
		return nil, nil, fmt.Errorf("find members: %w", err)
	}
	defer sub.Close()
	seen := map[string]bool{}
	for {
		b, err := sub.Next(ctx, 4096)
		if err != nil {
			return nil, nil, fmt.Errorf("find members: %w", err)
		}
		for _, ev := range b.Events {
			if seen[ev.StreamID] {
				continue
			}
			seen[ev.StreamID] = true
			switch cat := eventstore.Category(ev.StreamID); cat {
			case userCategory:
				users = append(users, strings.TrimPrefix(ev.StreamID, cat+"-"))
			case agentCategory:
				agents = append(agents, strings.TrimPrefix(ev.StreamID, cat+"-"))
			}
		}
		if b.CaughtUp {
			return users, agents, nil
		}
	}
}
