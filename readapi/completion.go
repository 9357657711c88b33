package readapi

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"strings"
	"time"
	"unicode/utf8"

	"agentdesk/domain"
	"agentdesk/internal/reqbody"
	"agentdesk/internal/sse"
)

// Completer completes chats for POST /api/llm/completion. It must be
// safe for concurrent use. Errors wrap ErrNoProvider when the model's
// provider is not configured, are the context's error when ctx ends,
// and are the provider's failure otherwise.
type Completer interface {
	// Available returns nil when model ("" for the default) can be
	// asked, or an error wrapping ErrNoProvider that names the setting
	// to set.
	Available(model string) error
	// Complete returns the whole answer.
	Complete(ctx context.Context, req CompletionRequest) (Completion, error)
	// Stream calls onChunk with each piece of the answer as it comes;
	// an error from onChunk ends it. The Completion holds the usage.
	Stream(ctx context.Context, req CompletionRequest, onChunk func(string) error) (Completion, error)
}

// Meter records what completions cost, so that the event log (the only
// source of truth) holds every token spent; the query API itself never
// appends events. It must be safe for concurrent use.
type Meter interface {
	// Record records that p's completion by model cost u. It is called
	// after the answer was delivered, with a context that outlives the
	// client; an error is logged by the caller.
	Record(ctx context.Context, p domain.Principal, model string, u TokenUsage) error
}

// ErrNoProvider means no LLM provider is configured for the model asked
// for: 503, with the error's message naming the setting.
var ErrNoProvider = errors.New("no LLM provider configured")

// ErrUpstream is a provider's failure: 502.
var ErrUpstream = errors.New("the LLM provider failed")

// ChatMessage is one message of a chat: role system, user or assistant.
type ChatMessage struct {
	Role    string `json:"role"`
	Content string `json:"content"`
}

// CompletionRequest is a chat to complete.
type CompletionRequest struct {
	// Model is "" for the completer's default.
	Model    string
	Messages []ChatMessage
	// MaxTokens is 0 to leave it to the provider.
	MaxTokens   int
	Temperature *float32
}

// TokenUsage is what a completion cost.
type TokenUsage struct {
	PromptTokens     int `json:"prompt_tokens"`
	CompletionTokens int `json:"completion_tokens"`
	TotalTokens      int `json:"total_tokens"`
}

// Completion is a model's answer, as the endpoint sends it.
type Completion struct {
	Content string     `json:"content"`
	Model   string     `json:"model"`
	Usage   TokenUsage `json:"usage"`
}

// Limits of a completion body.
const (
	maxCompletionBody = 1 << 20
	maxMessages       = 200
	maxModelName      = 200
	maxTokensLimit    = 1 << 20
)

// completionBody is the body of POST /api/llm/completion.
type completionBody struct {
	Prompt      *string       `json:"prompt"`
	Messages    []ChatMessage `json:"messages"`
	Model       string        `json:"model"`
	MaxTokens   *int          `json:"max_tokens"`
	Temperature *float64      `json:"temperature"`
	Stream      bool          `json:"stream"`

	hasMessages bool // "messages" was given, even as [] or null
}

// completionFields are the keys of a completion body.
var completionFields = map[string]bool{"prompt": true, "messages": true, "model": true, "max_tokens": true, "temperature": true, "stream": true}

// completionWriteWait is how long one answer or chunk may take to reach
// the client. The server's write timeout bounds whole responses, which a
// slow model outlasts; the completer's own timeout bounds the wait for
// the model.
const completionWriteWait = time.Minute

// completion answers POST /api/llm/completion.
func (a *API) completion(w http.ResponseWriter, r *http.Request) {
	p, ok := PrincipalFrom(r.Context())
	if !ok || !domain.CanComplete(p) {
		a.fail(w, r, fmt.Errorf("%w: your role may not use the LLM endpoints", domain.ErrForbidden))
		return
	}
	if a.completer == nil {
		a.fail(w, r, fmt.Errorf("%w: set OPENAI_API_KEY (or OPENAI_BASE_URL) to enable the LLM endpoints", ErrNoProvider))
		return
	}
	body, err := decodeCompletion(w, r)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	req, err := body.validate()
	if err != nil {
		a.fail(w, r, err)
		return
	}
	if err := a.completer.Available(req.Model); err != nil {
		a.fail(w, r, err)
		return
	}
	if err := a.checkQuota(r.Context(), p); err != nil {
		a.fail(w, r, err)
		return
	}
	if body.Stream {
		a.streamCompletion(w, r, p, req)
		return
	}
	rc := http.NewResponseController(w)
	// The completer bounds the wait for the model; the server's write
	// timeout would cut a slow one short.
	_ = rc.SetWriteDeadline(time.Time{})
	c, err := a.completer.Complete(r.Context(), req)
	if err != nil {
		a.fail(w, r, ProviderError(err))
		return
	}
	_ = rc.SetWriteDeadline(time.Now().Add(completionWriteWait))
	WriteJSON(w, http.StatusOK, c)
	a.recordUsage(r, p, req, c)
}

// checkQuota refuses a principal whose company has spent its monthly
// token quota (429), before the provider is asked.
func (a *API) checkQuota(ctx context.Context, p domain.Principal) error {
	if a.quota == nil {
		return nil
	}
	return a.quota.Check(ctx, p.CompanyID)
}

// recordUsage records what completion c of p cost, once it was
// answered. The tokens were spent whether or not the client stayed to
// read the answer, so the record outlives the request. A completion that
// reported no usage records nothing: a stream the client left before the
// provider reported its usage, or a provider that reports none. A
// failure to record is logged here; the answer was delivered and stays
// so.
func (a *API) recordUsage(r *http.Request, p domain.Principal, req CompletionRequest, c Completion) {
	u := c.Usage
	if a.usageMeter == nil || (u.PromptTokens == 0 && u.CompletionTokens == 0 && u.TotalTokens == 0) {
		return
	}
	model := c.Model
	if model == "" {
		model = req.Model
	}
	if model == "" {
		model = "unknown"
	}
	if err := a.usageMeter.Record(context.WithoutCancel(r.Context()), p, model, u); err != nil {
		a.log.Error("could not record a completion's usage", "method", r.Method, "path", r.URL.Path,
			"company_id", p.CompanyID, "user_id", p.UserID, "model", model, "total_tokens", u.TotalTokens, "err", err)
	}
}

// streamCompletion answers with server-sent events: "chunk" events with
// the text as it comes, then "usage" and "done", or "error" when the
// provider fails after the answer started.
func (a *API) streamCompletion(w http.ResponseWriter, r *http.Request, p domain.Principal, req CompletionRequest) {
	st := sse.New(w, completionWriteWait)
	send := st.Send
	c, err := a.completer.Stream(r.Context(), req, func(s string) error {
		return send("chunk", map[string]string{"content": s})
	})
	// The final usage is known now, whether or not the stream ended
	// well: what the provider reported is recorded, and a stream cut
	// short before it reported any (the client went away mid-answer)
	// records nothing.
	defer a.recordUsage(r, p, req, c)
	switch {
	case err != nil && !st.Started():
		// Nothing sent yet: the failure still has its status.
		a.fail(w, r, ProviderError(err))
	case err != nil && (st.Failed() || r.Context().Err() != nil):
		// The client went away and took the upstream request with it.
		a.log.Debug("client went away", "method", r.Method, "path", r.URL.Path)
	case err != nil:
		a.log.Warn("completion stream failed", "method", r.Method, "path", r.URL.Path, "err", err)
		_ = send("error", Problem{Detail: "the LLM provider failed mid-answer; retry"})
	default:
		if send("usage", c.Usage) == nil {
			_ = send("done", map[string]string{"model": c.Model})
		}
	}
}

// ProviderError marks a provider's failure as such (502), and leaves
// ErrNoProvider, a cancellation and a deadline as they are.
func ProviderError(err error) error {
	if errors.Is(err, ErrNoProvider) || errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return err
	}
	return fmt.Errorf("%w: %w", ErrUpstream, err)
}

// decodeCompletion reads the body strictly: one JSON object, no unknown
// fields, each field of its type.
func decodeCompletion(w http.ResponseWriter, r *http.Request) (completionBody, error) {
	var b completionBody
	if ct := r.Header.Get("Content-Type"); ct != "" {
		if mt, _, err := mime.ParseMediaType(ct); err != nil || (mt != "application/json" && !strings.HasSuffix(mt, "+json")) {
			return b, &requestError{status: http.StatusUnsupportedMediaType, msg: "the body must be JSON: send Content-Type: application/json"}
		}
	}
	raw, err := reqbody.Read(w, r, maxCompletionBody)
	if err != nil {
		return b, err
	}
	if !utf8.Valid(raw) {
		return b, &requestError{status: http.StatusBadRequest, msg: "the body must be UTF-8 JSON"}
	}
	dec := json.NewDecoder(strings.NewReader(string(raw)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&b); err != nil {
		var te *json.UnmarshalTypeError
		switch {
		case errors.As(err, &te) && te.Field != "":
			return b, &requestError{status: http.StatusBadRequest, msg: fmt.Sprintf("field %s must be a %s", te.Field, te.Type),
				fields: map[string]string{te.Field: "must be a " + te.Type.String()}}
		case strings.HasPrefix(err.Error(), "json: unknown field "):
			field := strings.Trim(strings.TrimPrefix(err.Error(), "json: unknown field "), `"`)
			return b, &requestError{status: http.StatusBadRequest, msg: fmt.Sprintf("unknown field %q", field), fields: map[string]string{field: "unknown field"}}
		case errors.Is(err, io.EOF):
			return b, &requestError{status: http.StatusBadRequest, msg: "a JSON body is required"}
		}
		return b, &requestError{status: http.StatusBadRequest, msg: "the body must be a JSON object: " + err.Error()}
	}
	if dec.Decode(&struct{}{}) != io.EOF {
		return b, &requestError{status: http.StatusBadRequest, msg: "the body must hold a single JSON object"}
	}
	keys, err := objectKeys(raw, completionFields)
	if err != nil {
		return b, err
	}
	// Tell "messages": [] from no messages at all.
	b.hasMessages = keys["messages"]
	return b, nil
}

// validate checks the body's values and returns the request, or a
// *domain.ValidationError naming every bad field (422).
func (b completionBody) validate() (CompletionRequest, error) {
	fields := map[string]string{}
	req := CompletionRequest{Model: b.Model}
	switch {
	case b.Prompt != nil && b.hasMessages:
		fields["prompt"] = "give prompt or messages, not both"
	case b.Prompt == nil && !b.hasMessages:
		fields["prompt"] = "is required (or messages)"
	case b.Prompt != nil:
		if strings.TrimSpace(*b.Prompt) == "" {
			fields["prompt"] = "must not be empty"
		}
		req.Messages = []ChatMessage{{Role: "user", Content: *b.Prompt}}
	default:
		switch {
		case len(b.Messages) == 0:
			fields["messages"] = "must hold at least one message"
		case len(b.Messages) > maxMessages:
			fields["messages"] = fmt.Sprintf("must hold at most %d messages", maxMessages)
		}
		for i, m := range b.Messages {
			switch m.Role {
			case "system", "user", "assistant":
			default:
				fields[fmt.Sprintf("messages[%d].role", i)] = "must be system, user or assistant"
			}
			if strings.TrimSpace(m.Content) == "" {
				fields[fmt.Sprintf("messages[%d].content", i)] = "must not be empty"
			}
		}
		req.Messages = b.Messages
	}
	if b.Model != "" && (len(b.Model) > maxModelName || strings.ContainsFunc(b.Model, func(r rune) bool { return r <= ' ' || r == 0x7f })) {
		fields["model"] = fmt.Sprintf("must be a model name of at most %d characters, without spaces", maxModelName)
	}
	if b.MaxTokens != nil {
		if *b.MaxTokens < 1 || *b.MaxTokens > maxTokensLimit {
			fields["max_tokens"] = fmt.Sprintf("must be from 1 to %d", maxTokensLimit)
		}
		req.MaxTokens = *b.MaxTokens
	}
	if b.Temperature != nil {
		if *b.Temperature < 0 || *b.Temperature > 2 {
			fields["temperature"] = "must be from 0 to 2"
		}
		t := float32(*b.Temperature)
		req.Temperature = &t
	}
	if len(fields) > 0 {
		return CompletionRequest{}, &domain.ValidationError{Fields: fields}
	}
	return req, nil
}

// requestError is a client error with its status and, when known, the
// fields at fault.
type requestError struct {
	status int
	msg    string
	fields map[string]string
}

func (e *requestError) Error() string { return e.msg }

// HTTPStatus gives the API's error mapping the status.
func (e *requestError) HTTPStatus() int { return e.status }

// Fields names the offending fields.
func (e *requestError) Fields() map[string]string { return e.fields }
