package llm

import (
	"encoding/json"

	openai "github.com/sashabaranov/go-openai"
)

// Tool is a function the model may call.
type Tool struct {
	Name        string
	Description string
	// Parameters is the JSON Schema of the arguments.
	Parameters json.RawMessage
}

// ToolCall is a call the model asked for.
type ToolCall struct {
	ID   string
	Name string
	// Arguments is the JSON the model wrote for the call; models can
	// write invalid JSON, so callers check it.
	Arguments string
}

func tools(ts []Tool) []openai.Tool {
	if len(ts) == 0 {
		return nil
	}
	out := make([]openai.Tool, len(ts))
	for i, t := range ts {
		out[i] = openai.Tool{Type: openai.ToolTypeFunction, Function: &openai.FunctionDefinition{
			Name: t.Name, Description: t.Description, Parameters: t.Parameters}}
	}
	return out
}

func toolCalls(cs []openai.ToolCall) []ToolCall {
	var out []ToolCall
	for _, c := range cs {
		out = append(out, ToolCall{ID: c.ID, Name: c.Function.Name, Arguments: c.Function.Arguments})
	}
	return out
}

// callBuilder puts together the tool calls a stream sends in pieces:
// each piece names its call by index, the first one with its id and
// name, the rest with more of its arguments.
type callBuilder struct {
	byIndex map[int]*ToolCall
	order   []int
}

func (b *callBuilder) add(deltas []openai.ToolCall) {
	for i, d := range deltas {
		idx := i
		if d.Index != nil {
			idx = *d.Index
		}
		c, ok := b.byIndex[idx]
		if !ok {
			if b.byIndex == nil {
				b.byIndex = map[int]*ToolCall{}
			}
			c = &ToolCall{}
			b.byIndex[idx] = c
			b.order = append(b.order, idx)
		}
		if d.ID != "" {
			c.ID = d.ID
		}
		if d.Function.Name != "" {
			c.Name = d.Function.Name
		}
		c.Arguments += d.Function.Arguments
	}
}

func (b *callBuilder) calls() []ToolCall {
	var out []ToolCall
	for _, idx := range b.order {
		out = append(out, *b.byIndex[idx])
	}
	return out
}
