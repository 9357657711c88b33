package main

import (
	"net/http"

	"github.com/getkin/kin-openapi/openapi3"
)

// events describes the realtime feed: POST /api/events/ticket and
// GET /api/events.
func (d *describer) events() {
	str := openapi3.NewStringSchema
	ticket := openapi3.NewObjectSchema().WithoutAdditionalProperties().
		WithProperty("ticket", str()).
		WithProperty("expires_in", openapi3.NewIntegerSchema().WithMin(1)).
		WithRequired([]string{"ticket", "expires_in"})
	op := &openapi3.Operation{
		OperationID: "eventsTicket", Tags: []string{"realtime"}, Summary: "A ticket that opens the caller's event stream",
		Description: "The ticket opens GET /api/events?ticket=… for expires_in seconds (reconnects included), and nothing else: " +
			"an EventSource cannot send the bearer token in a header, and a token in a URL would end up in access logs.",
		Responses: responses(http.StatusOK, openapi3.NewResponse().WithDescription("The ticket.").WithJSONSchema(ticket)),
	}
	d.problems(op, 400, 401, 429, 500, 503)
	d.add(http.MethodPost, "/api/events/ticket", op, false)

	stream := str()
	stream.Description = "Server-sent events: a `retry:` line, `: keep-alive` comments while idle, and messages of the default " +
		"type, each `data:` a JSON object {\"topic\": \"resource/<name>\" or \"resource/<name>/<id>\", \"event\": {\"type\": " +
		"\"created\" | \"updated\" | \"deleted\", \"payload\": {\"ids\": [...]}}}. The last message of each run of changes carries " +
		"an `id:` to resume from."
	op = &openapi3.Operation{
		OperationID: "events", Tags: []string{"realtime"}, Summary: "The realtime stream of record changes the caller may read",
		Description: "Sent once the projections have applied each change, only of the caller's company and of what its role may read " +
			"(a client hears of its own tickets and their comments). A run of changes of one resource is one message on the " +
			"resource's topic, after one message on each record's topic. Reconnecting with Last-Event-ID (or ?last_event_id=) " +
			"resumes after that message; when the server no longer holds it, one `updated` message with no ids on each resource " +
			"topic the caller may read says to read everything again. The stream ends when its user is deactivated, its company " +
			"suspended, or its password or role changes.",
		Parameters: openapi3.Parameters{
			{Value: openapi3.NewQueryParameter("ticket").WithRequired(true).WithSchema(str()).
				WithDescription("A ticket from POST /api/events/ticket.")},
			{Value: openapi3.NewQueryParameter("last_event_id").WithSchema(str()).
				WithDescription("The id of the last message received, for a client that cannot send the Last-Event-ID header.")},
			{Value: openapi3.NewHeaderParameter("Last-Event-ID").WithSchema(str()).
				WithDescription("The id of the last message received, which an EventSource sends when it reconnects.")},
		},
		Responses: responses(http.StatusOK, openapi3.NewResponse().WithDescription("The stream, until the client or the server ends it.").
			WithContent(openapi3.NewContentWithSchema(stream, []string{"text/event-stream"}))),
	}
	d.problems(op, 401, 429, 500, 503)
	d.add(http.MethodGet, "/api/events", op, true)
}

// adminApp describes the admin app's routes.
func (d *describer) adminApp() {
	redirect := func(code int, to string) *openapi3.Responses {
		r := openapi3.NewResponse().WithDescription("To " + to + ".")
		r.Headers = openapi3.Headers{"Location": &openapi3.HeaderRef{Value: &openapi3.Header{Parameter: openapi3.Parameter{
			Required: true, Schema: openapi3.NewStringSchema().NewRef()}}}}
		r.Content = openapi3.NewContentWithSchema(openapi3.NewStringSchema(), []string{"text/html"})
		return responses(code, r)
	}
	d.add(http.MethodGet, "/", &openapi3.Operation{
		OperationID: "root", Tags: []string{"admin"}, Summary: "Redirects to the admin app", Responses: redirect(http.StatusFound, adminPath),
	}, true)
	d.add(http.MethodGet, "/admin", &openapi3.Operation{
		OperationID: "adminRoot", Tags: []string{"admin"}, Summary: "Redirects to the admin app", Responses: redirect(http.StatusMovedPermanently, adminPath),
	}, true)
	text := func(about string, types ...string) *openapi3.ResponseRef {
		return &openapi3.ResponseRef{Value: openapi3.NewResponse().WithDescription(about).
			WithContent(openapi3.NewContentWithSchema(openapi3.NewStringSchema(), types))}
	}
	for _, method := range []string{http.MethodGet, http.MethodHead} {
		d.add(method, adminPath+"*", &openapi3.Operation{
			OperationID: "adminApp" + map[string]string{http.MethodGet: "", http.MethodHead: "Head"}[method], Tags: []string{"admin"},
			Summary: "The admin app (React Admin), from ADMIN_DIR",
			Description: "A file of the built app, or its index.html for any other path without an extension (the app's own routes). " +
				"The path after /admin/ may have several segments.",
			Responses: openapi3.NewResponses(
				openapi3.WithStatus(http.StatusOK, text("The file, or the app's page.", "text/html", "text/javascript", "text/css", "image/svg+xml", "image/png")),
				openapi3.WithStatus(http.StatusNotFound, text("No such file of the app.", "text/plain")),
				openapi3.WithStatus(http.StatusServiceUnavailable, text("The app is not built in ADMIN_DIR: run make admin.", "text/plain"))),
		}, true)
	}
}
