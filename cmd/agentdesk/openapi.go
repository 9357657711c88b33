package main

// The API's description, served at GET /openapi.json.
//
// It is composed here because this is where the two halves of the API
// meet: the query side (readapi) must not import the write side
// (commands/web), and the write side knows neither the error mapping nor
// the list parameters, so neither can describe the whole API. Each part
// hands over what it owns as plain data, and nothing is described by hand
// twice:
//   - domain/resource: the resources, their queryable fields with kinds
//     and enums, what may be filtered and sorted, child resources;
//   - projections: the document types the records are (Document);
//   - commands/web: its routes and the body types its handlers decode
//     (Operations);
//   - readapi: the error body (Problem), the paging limits and the filter
//     suffixes.
//
// TestOpenAPI checks the result against the mounted router (both ways)
// and validates real responses against it.

import (
	"encoding/json"
	"fmt"
	"net/http"
	"reflect"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/getkin/kin-openapi/openapi3"

	"agentdesk/commands/web"
	"agentdesk/domain/resource"
	"agentdesk/projections"
	"agentdesk/reactions"
	"agentdesk/readapi"
)

// openAPIPath is where the description is served.
const openAPIPath = "/openapi.json"

// openAPIJSON is the description as served, built on first use. It
// depends only on declarations fixed at build time, so once per process
// is enough (TestOpenAPI builds the same one), and starting a server
// does not pay for it: building and encoding it takes about 40 ms.
var openAPIJSON = sync.OnceValues(func() ([]byte, error) {
	desc, err := describeAPI(buildVersion())
	if err != nil {
		return nil, err
	}
	return json.Marshal(desc)
})

// serveOpenAPI answers the description.
func (s *Server) serveOpenAPI(w http.ResponseWriter, r *http.Request) {
	raw, err := openAPIJSON()
	if err != nil {
		readapi.WriteError(s.log, w, r, fmt.Errorf("describe the API: %w", err))
		return
	}
	w.Header().Set("Content-Type", "application/json")
	_, _ = w.Write(raw)
}

// describer builds the description.
type describer struct {
	doc *openapi3.T
	// records are the record schemas by resource name, and names their
	// component names.
	records map[string]*openapi3.Schema
	names   map[string]string
}

// describeAPI returns the OpenAPI 3.0 description of the HTTP API. An
// error means that the parts disagree (a declared field the records
// lack, a write on an unknown resource): a programming error, which
// TestOpenAPI reports.
func describeAPI(version string) (*openapi3.T, error) {
	d := &describer{
		doc: &openapi3.T{
			OpenAPI: "3.0.3",
			Info: &openapi3.Info{
				Title:   "agentdesk",
				Version: version,
				Description: "The HTTP API of agentdesk, in React Admin's format: lists answer {data, total} with a " +
					"Content-Range header, records carry an id and, when they can change, a revision (also their ETag). " +
					"Errors answer {detail, message}, with errors naming invalid fields. Every response carries an " +
					"X-Request-ID (the client's, when it sends a plain one).",
			},
			Paths: openapi3.NewPaths(),
			Components: &openapi3.Components{
				Schemas:    openapi3.Schemas{},
				Parameters: openapi3.ParametersMap{},
				Responses:  openapi3.ResponseBodies{},
				SecuritySchemes: openapi3.SecuritySchemes{
					"bearer": {Value: &openapi3.SecurityScheme{Type: "http", Scheme: "bearer", BearerFormat: "JWT",
						Description: "A token from POST /auth/token."}},
				},
			},
			Security: openapi3.SecurityRequirements{{"bearer": {}}},
		},
		records: map[string]*openapi3.Schema{},
		names:   map[string]string{},
	}
	d.common()
	if err := d.recordSchemas(); err != nil {
		return nil, err
	}
	d.public()
	d.reads()
	d.operator()
	d.completion()
	d.chat()
	d.events()
	d.adminApp()
	d.documents()
	d.attachments()
	if err := d.writes(); err != nil {
		return nil, err
	}
	return d.doc, nil
}

// status is an error status the API answers: a component response,
// with the error body, named name.
type status struct {
	status      int
	name, about string
}

// statuses are the error statuses the API answers.
var statuses = []status{
	{http.StatusBadRequest, "BadRequest", "Malformed JSON, unknown or repeated fields, wrong types, a NUL in a string, " +
		"filter or sort fields outside the allow-lists, bad paging, a bad If-Match."},
	{http.StatusUnauthorized, "Unauthorized", "No token, an invalid or expired one, a wrong password, or a user or company that is no longer active."},
	{http.StatusForbidden, "Forbidden", "The role does not allow this."},
	{http.StatusNotFound, "NotFound", "No such record, or another company's."},
	{http.StatusMethodNotAllowed, "MethodNotAllowed", "The method is not served at this path."},
	{http.StatusConflict, "Conflict", "A stale revision or If-Match, a concurrent change, an invalid state transition, a name taken, " +
		"or an Idempotency-Key reused with another request."},
	{http.StatusRequestEntityTooLarge, "PayloadTooLarge", fmt.Sprintf("The body is over %d bytes.", web.MaxBody)},
	{http.StatusUnsupportedMediaType, "UnsupportedMediaType", "A write body that is not JSON."},
	{http.StatusUnprocessableEntity, "ValidationFailed", "Invalid field values or a change to a fixed field; errors names each field."},
	{http.StatusTooManyRequests, "TooManyRequests", "Too many sign-in attempts, a company over its share of the server, " +
		"or (LLM) a company that has spent its monthly token quota; retry after Retry-After seconds."},
	{http.StatusInternalServerError, "InternalError", "An unexpected failure (logged by the server)."},
	{http.StatusBadGateway, "BadGateway", "The LLM provider failed, after retries."},
	{http.StatusServiceUnavailable, "Unavailable", "A read model is catching up, failing, or behind a write (which was recorded); retry after Retry-After seconds."},
	{http.StatusInsufficientStorage, "InsufficientStorage", "The event store is out of space: nothing was recorded."},
}

// Status sets of the kinds of endpoints.
var (
	readErrors  = []int{401, 403, 500, 503}
	writeErrors = []int{400, 401, 403, 404, 409, 413, 415, 422, 500, 503, 507}
)

// common adds the components operations share: the error body and
// responses, the paging and write parameters.
func (d *describer) common() {
	c := d.doc.Components
	problem := shape(reflect.TypeFor[readapi.Problem](), nil, true)
	problem.Description = "The body of every error; message repeats detail, errors names invalid fields."
	c.Schemas["Problem"] = openapi3.NewSchemaRef("", problem)

	for _, s := range statuses {
		r := openapi3.NewResponse().WithDescription(s.about).WithJSONSchemaRef(ref("Problem"))
		switch s.status {
		case http.StatusUnauthorized:
			withHeader(r, "WWW-Authenticate", true)
		case http.StatusServiceUnavailable, http.StatusInsufficientStorage:
			withHeader(r, "Retry-After", true)
		case http.StatusTooManyRequests:
			withHeader(r, "Retry-After", false)
		}
		c.Responses[s.name] = &openapi3.ResponseRef{Value: r}
	}

	param := func(p *openapi3.Parameter) *openapi3.ParameterRef { return &openapi3.ParameterRef{Value: p} }
	c.Parameters["skip"] = param(openapi3.NewQueryParameter("skip").WithDescription("Records to skip.").
		WithSchema(openapi3.NewIntegerSchema().WithMin(0)))
	c.Parameters["limit"] = param(openapi3.NewQueryParameter("limit").WithDescription("Records per page.").
		WithSchema(openapi3.NewIntegerSchema().WithMin(1).WithMax(readapi.MaxLimit).WithDefault(readapi.DefaultLimit)))
	c.Parameters["range"] = param(openapi3.NewQueryParameter("range").WithDescription("ra-data-simple-rest's page: [first, last], both included.").
		WithSchema(openapi3.NewStringSchema().WithPattern(`^\[\s*[0-9]+\s*,\s*[0-9]+\s*\]$`)))
	c.Parameters["order"] = param(openapi3.NewQueryParameter("order").WithDescription("The sort direction, in any case.").
		WithSchema(openapi3.NewStringSchema().WithEnum("ASC", "DESC")))
	c.Parameters["Idempotency-Key"] = param(openapi3.NewHeaderParameter("Idempotency-Key").
		WithDescription("Makes the write happen once: the same key with the same request replays the first answer, with another request it is a 409.").
		WithSchema(openapi3.NewStringSchema().WithMaxLength(255)))
	c.Parameters["If-Match"] = param(openapi3.NewHeaderParameter("If-Match").
		WithDescription(`The revision the change applies to (the record's ETag, "3"); a stale one is a 409.`).
		WithSchema(openapi3.NewStringSchema()))
	c.Parameters["X-Correlation-ID"] = param(openapi3.NewHeaderParameter("X-Correlation-ID").
		WithDescription("Recorded in the events' metadata (other values are ignored).").WithSchema(openapi3.NewUUIDSchema()))
	c.Parameters["X-Causation-ID"] = param(openapi3.NewHeaderParameter("X-Causation-ID").
		WithDescription("Recorded in the events' metadata (other values are ignored).").WithSchema(openapi3.NewUUIDSchema()))
}

// recordSchemas adds a record and a list schema per resource: the shape
// of the read model's documents, with the enums of the declaration, which
// the documents must hold with the declared kinds.
func (d *describer) recordSchemas() error {
	docs := map[string]any{}
	for _, p := range projections.All() {
		if dp, ok := p.(interface{ Document() any }); ok {
			docs[p.Collection().Name] = dp.Document()
		}
	}
	for _, r := range resource.All() {
		doc, ok := docs[r.CollectionName()]
		if !ok {
			return fmt.Errorf("describe %s: no projection describes its documents", r.Name)
		}
		s, err := recordSchema(r, doc)
		if err != nil {
			return err
		}
		// The document type names the record: Ticket, ContentItem.
		name := reflect.TypeOf(doc).Elem().Name()
		if _, taken := d.doc.Components.Schemas[name]; taken {
			return fmt.Errorf("describe %s: two resources' records are named %s", r.Name, name)
		}
		d.doc.Components.Schemas[name] = openapi3.NewSchemaRef("", s)
		d.records[r.Name], d.names[r.Name] = s, name

		data := openapi3.NewArraySchema()
		data.Items = ref(name)
		list := openapi3.NewObjectSchema().WithoutAdditionalProperties().
			WithProperty("data", data).
			WithProperty("total", openapi3.NewIntegerSchema().WithMin(0)).
			WithRequired([]string{"data", "total"})
		list.Description = fmt.Sprintf("A page of %s and the number of records that match.", r.Name)
		d.doc.Components.Schemas[name+"List"] = openapi3.NewSchemaRef("", list)
	}
	return nil
}

// recordSchema describes the records of r, whose documents are of the
// type doc points to, with the enums of the declaration. A field
// declared but missing from the documents, or of another kind, is an
// error: the query API would filter and sort on something the records do
// not hold.
func recordSchema(r *resource.Resource, doc any) (*openapi3.Schema, error) {
	s := shape(reflect.TypeOf(doc).Elem(), declared(r), true)
	for _, f := range append([]resource.Field{{Name: "id", Kind: resource.Text}}, r.Fields...) {
		var got *openapi3.Schema
		if p := s.Properties[f.Name]; p != nil {
			got = p.Value
		}
		if want := fieldSchema(f); !sameKind(got, want) {
			return nil, fmt.Errorf("describe %s: field %s is declared %s, but its records' is %s", r.Name, f.Name, kindName(want), kindName(got))
		}
	}
	s.Description = fmt.Sprintf("A record of %s.", r.Name)
	return s, nil
}

// public adds the endpoints that need no token.
func (d *describer) public() {
	statusBody := func(values ...any) *openapi3.Schema {
		return openapi3.NewObjectSchema().WithProperty("status", openapi3.NewStringSchema().WithEnum(values...)).WithRequired([]string{"status"})
	}
	d.add(http.MethodGet, "/healthz", &openapi3.Operation{
		OperationID: "health", Tags: []string{"health"}, Summary: "The process is up",
		Responses: responses(200, openapi3.NewResponse().WithDescription("Up.").WithJSONSchema(statusBody("ok"))),
	}, true)
	notReady := statusBody("not ready").WithProperty("detail", openapi3.NewStringSchema()).WithProperty("message", openapi3.NewStringSchema())
	d.add(http.MethodGet, "/readyz", &openapi3.Operation{
		OperationID: "ready", Tags: []string{"health"}, Summary: "Every projection has caught up, none is failing and none lags behind the log",
		Responses: openapi3.NewResponses(
			openapi3.WithStatus(200, &openapi3.ResponseRef{Value: openapi3.NewResponse().WithDescription("Ready.").WithJSONSchema(statusBody("ready"))}),
			openapi3.WithStatus(503, &openapi3.ResponseRef{Value: openapi3.NewResponse().WithDescription("Catching up or failing.").WithJSONSchema(notReady)})),
	}, true)
	d.add(http.MethodGet, "/metrics", &openapi3.Operation{
		OperationID: "metrics", Tags: []string{"health"}, Summary: "Prometheus metrics (text exposition format); keep it off public networks",
		Responses: openapi3.NewResponses(openapi3.WithStatus(200, &openapi3.ResponseRef{Value: openapi3.NewResponse().
			WithDescription("The metrics, in Prometheus' text format.").
			WithContent(openapi3.NewContentWithSchema(openapi3.NewStringSchema(), []string{"text/plain"}))})),
	}, true)
	d.add(http.MethodGet, openAPIPath, &openapi3.Operation{
		OperationID: "openapi", Tags: []string{"health"}, Summary: "This description",
		Responses: responses(200, openapi3.NewResponse().WithDescription("An OpenAPI 3.0 document.").WithJSONSchema(openapi3.NewObjectSchema())),
	}, true)

	credentials := openapi3.NewObjectSchema().WithoutAdditionalProperties().
		WithProperty("username", openapi3.NewStringSchema()).
		WithProperty("password", openapi3.NewStringSchema().WithFormat("password")).
		// OAuth2's password grant may send these too; they are ignored.
		WithProperty("grant_type", openapi3.NewStringSchema()).
		WithProperty("scope", openapi3.NewStringSchema()).
		WithRequired([]string{"username", "password"})
	token := openapi3.NewObjectSchema().WithoutAdditionalProperties().
		WithProperty("access_token", openapi3.NewStringSchema()).
		WithProperty("token_type", openapi3.NewStringSchema().WithEnum("bearer")).
		WithProperty("expires_in", openapi3.NewIntegerSchema().WithMin(1)).
		WithRequired([]string{"access_token", "token_type", "expires_in"})
	op := &openapi3.Operation{
		OperationID: "signIn", Tags: []string{"auth"}, Summary: "Sign in: a bearer token for a username and password",
		RequestBody: &openapi3.RequestBodyRef{Value: openapi3.NewRequestBody().WithRequired(true).
			WithSchema(credentials, []string{"application/x-www-form-urlencoded", "application/json"})},
		Responses: responses(200, openapi3.NewResponse().WithDescription("Signed in.").WithJSONSchema(token)),
	}
	d.problems(op, 400, 401, 413, 415, 422, 429, 500, 503)
	d.add(http.MethodPost, "/auth/token", op, true)

	op = &openapi3.Operation{
		OperationID: "me", Tags: []string{"auth"}, Summary: "The current user's record",
		Responses: responses(200, openapi3.NewResponse().WithDescription("The user.").WithJSONSchemaRef(ref(d.names[resource.Users.Name]))),
	}
	d.problems(op, 401, 404, 500, 503)
	d.add(http.MethodGet, "/auth/me", op, false)
}

// reads adds the list and record endpoints of every resource.
func (d *describer) reads() {
	for _, r := range resource.All() {
		name := d.names[r.Name]
		list := &openapi3.Operation{
			OperationID: "list" + camel(r.Name), Tags: []string{r.Name}, Summary: "List " + r.Name,
			Parameters: append(pageParams(), listParams(r)...),
			Responses: responses(200, withHeader(openapi3.NewResponse().WithDescription("A page of "+r.Name+".").
				WithJSONSchemaRef(ref(name+"List")), "Content-Range", true)),
		}
		if r.Parent != nil {
			list.Description = fmt.Sprintf("The filter must name one %s by %s; whoever may read it may read its %s.", r.Parent.Name, r.ParentField, r.Name)
			d.problems(list, 404)
		}
		d.problems(list, append([]int{400}, readErrors...)...)
		d.add(http.MethodGet, "/api/"+r.Name, list, false)

		get := &openapi3.Operation{
			OperationID: "get" + name, Tags: []string{r.Name}, Summary: "Read one of " + r.Name,
			// Only records that can change carry a revision, and so an ETag.
			Responses: responses(200, withHeader(openapi3.NewResponse().WithDescription("The record.").WithJSONSchemaRef(ref(name)),
				"ETag", d.records[r.Name].Properties["revision"] != nil)),
		}
		if !r.Derived {
			get.Parameters = openapi3.Parameters{
				{Value: openapi3.NewQueryParameter("as_of").WithDescription("RFC 3339 time: the record as it was then, replayed from the event log (404 if it did not exist yet)").
					WithSchema(openapi3.NewDateTimeSchema())},
				{Value: openapi3.NewQueryParameter("revision").WithDescription("the record right after this revision, replayed from the event log").
					WithSchema(openapi3.NewIntegerSchema().WithMin(0))},
			}
			get.Responses.Set("400", &openapi3.ResponseRef{Ref: "#/components/responses/BadRequest", Value: d.doc.Components.Responses["BadRequest"].Value})
		}
		d.problems(get, append([]int{404}, readErrors...)...)
		d.add(http.MethodGet, "/api/"+r.Name+"/{id}", get, false)

		if !r.Derived {
			hist := &openapi3.Operation{
				OperationID: "history" + name, Tags: []string{r.Name}, Summary: "The history of one of " + r.Name + ", newest first: every event with who, when, its data and the record's changes",
				Parameters: append(pageParams(), &openapi3.ParameterRef{Value: openapi3.NewQueryParameter("order").
					WithDescription("DESC (the default: newest first) or ASC").WithSchema(openapi3.NewStringSchema().WithEnum("ASC", "DESC"))}),
				Responses: responses(200, withHeader(openapi3.NewResponse().WithDescription("A page of the history.").
					WithJSONSchema(d.historyList()), "Content-Range", true)),
			}
			d.problems(hist, append([]int{400, 404}, readErrors...)...)
			d.add(http.MethodGet, "/api/"+r.Name+"/{id}/history", hist, false)
		}
	}

	comments := &openapi3.Operation{
		OperationID: "listTicketComments", Tags: []string{resource.Tickets.Name}, Summary: "A ticket's comments, oldest first",
		Parameters: pageParams(),
		Responses: responses(200, withHeader(openapi3.NewResponse().WithDescription("A page of the ticket's comments.").
			WithJSONSchemaRef(ref(d.names[resource.Comments.Name]+"List")), "Content-Range", true)),
	}
	d.problems(comments, 400, 401, 404, 500, 503)
	d.add(http.MethodGet, "/api/"+resource.Tickets.Name+"/{id}/comments", comments, false)
	d.auditExport()
}

// operator adds the superadmin's endpoints for the reactions.
func (d *describer) operator() {
	list := func(item reflect.Type) *openapi3.Schema {
		return openapi3.NewObjectSchema().
			WithProperty("data", openapi3.NewArraySchema().WithItems(shape(item, nil, true))).
			WithProperty("total", openapi3.NewIntegerSchema().WithMin(0)).
			WithRequired([]string{"data", "total"})
	}
	op := &openapi3.Operation{
		OperationID: "listReactions", Tags: []string{"operator"}, Summary: "Every reaction's checkpoint, lag, handled and parked counts (superadmin)",
		Responses: responses(200, withHeader(openapi3.NewResponse().WithDescription("The reactions and the campaign scheduler.").
			WithJSONSchema(list(reflect.TypeFor[reactionStatus]())), "Content-Range", true)),
	}
	d.problems(op, 401, 403, 500, 503)
	d.add(http.MethodGet, "/api/admin/reactions", op, false)

	op = &openapi3.Operation{
		OperationID: "listParkedReactionMessages", Tags: []string{"operator"}, Summary: "Messages that failed past their retries, newest first (superadmin)",
		Parameters: append(pageParams(), &openapi3.ParameterRef{Value: openapi3.NewQueryParameter("filter").
			WithDescription(`{"reaction": "<name>"} keeps one reaction's`).WithSchema(openapi3.NewStringSchema())}),
		Responses: responses(200, withHeader(openapi3.NewResponse().WithDescription("A page of parked messages.").
			WithJSONSchema(list(reflect.TypeFor[reactions.Parked]())), "Content-Range", true)),
	}
	d.problems(op, 400, 401, 403, 500, 503)
	d.add(http.MethodGet, "/api/admin/reactions/parked", op, false)

	op = &openapi3.Operation{
		OperationID: "replayParkedReactionMessage", Tags: []string{"operator"}, Summary: "Publish a parked message again (superadmin)",
		Responses: responses(200, openapi3.NewResponse().WithDescription("How the replay went: handled, parked again (with its error), or published to the broker.").
			WithJSONSchema(shape(reflect.TypeFor[reactions.ReplayResult](), nil, true))),
	}
	d.problems(op, 401, 403, 404, 500, 503)
	d.add(http.MethodPost, "/api/admin/reactions/parked/{id}/replay", op, false)

	line := shape(reflect.TypeFor[operatorLine](), nil, true)
	op = &openapi3.Operation{
		OperationID: "listProjections", Tags: []string{"operator"}, Summary: "Every projection's and reaction's status: version, generation, checkpoint, head, lag, rate, state, last error, rebuild (superadmin)",
		Responses: responses(200, withHeader(openapi3.NewResponse().WithDescription("The projections, then the reactions.").
			WithJSONSchema(list(reflect.TypeFor[operatorLine]())), "Content-Range", true)),
	}
	d.problems(op, 401, 403, 500, 503)
	d.add(http.MethodGet, "/api/admin/projections", op, false)

	op = &openapi3.Operation{
		OperationID: "getProjection", Tags: []string{"operator"}, Summary: "One projection's or reaction's status (superadmin)",
		Responses: responses(200, openapi3.NewResponse().WithDescription("Its status.").WithJSONSchema(line)),
	}
	d.problems(op, 401, 403, 404, 500, 503)
	d.add(http.MethodGet, "/api/admin/projections/{name}", op, false)

	for _, action := range []struct{ path, id, summary, desc string }{
		{"rebuild", "rebuildProjection", "Rebuild a projection into a new generation while the live one serves (superadmin)", "Started: the status, with the rebuild's progress. 409 while one runs."},
		{"resume", "resumeProjection", "Resume a halted projection after a fix (superadmin)", "Resumed: the status. 409 when it is not halted."},
	} {
		status := 200
		if action.path == "rebuild" {
			status = 202
		}
		op = &openapi3.Operation{
			OperationID: action.id, Tags: []string{"operator"}, Summary: action.summary,
			Responses: responses(status, openapi3.NewResponse().WithDescription(action.desc).WithJSONSchema(line)),
		}
		d.problems(op, 401, 403, 404, 409, 500, 503)
		d.add(http.MethodPost, "/api/admin/projections/{name}/"+action.path, op, false)
	}

	op = &openapi3.Operation{
		OperationID: "verifyProjection", Tags: []string{"operator"}, Summary: "Replay the log into a scratch generation and compare it with the live read model (superadmin)",
		Responses: responses(200, openapi3.NewResponse().WithDescription("What was compared and the first differences, document by document.").
			WithJSONSchema(shape(reflect.TypeFor[projections.VerifyResult](), nil, true))),
	}
	d.problems(op, 401, 403, 404, 500, 503)
	d.add(http.MethodPost, "/api/admin/projections/{name}/verify", op, false)

	op = &openapi3.Operation{
		OperationID: "listParkedProjectionEvents", Tags: []string{"operator"}, Summary: "Events projections skipped under their skip policy, newest first (superadmin)",
		Parameters: append(pageParams(), &openapi3.ParameterRef{Value: openapi3.NewQueryParameter("filter").
			WithDescription(`{"projection": "<name>"} keeps one projection's`).WithSchema(openapi3.NewStringSchema())}),
		Responses: responses(200, withHeader(openapi3.NewResponse().WithDescription("A page of parked events.").
			WithJSONSchema(list(reflect.TypeFor[projections.ParkedEvent]())), "Content-Range", true)),
	}
	d.problems(op, 400, 401, 403, 500, 503)
	d.add(http.MethodGet, "/api/admin/projections/parked", op, false)
}

// historyList describes a page of history.
func (d *describer) historyList() *openapi3.Schema {
	entry := shape(reflect.TypeFor[readapi.HistoryEntry](), nil, true)
	// A field's value before or after may be anything, null included.
	change := openapi3.NewObjectSchema().
		WithProperty("before", &openapi3.Schema{Nullable: true}).
		WithProperty("after", &openapi3.Schema{Nullable: true}).
		WithRequired([]string{"before", "after"})
	entry.Properties["changes"] = openapi3.NewSchemaRef("", openapi3.NewObjectSchema().WithAdditionalProperties(change))
	entry.Properties["data"] = openapi3.NewSchemaRef("", &openapi3.Schema{Nullable: true, Description: "the event's data, secrets and erased personal data redacted"})
	return openapi3.NewObjectSchema().
		WithProperty("data", openapi3.NewArraySchema().WithItems(entry)).
		WithProperty("total", openapi3.NewIntegerSchema().WithMin(0)).
		WithRequired([]string{"data", "total"})
}

// writes adds the write endpoints, from commands/web's own list.
func (d *describer) writes() error {
	for _, w := range web.Operations() {
		// Tagged by the resource in the path, as the reads are.
		op := &openapi3.Operation{OperationID: w.ID, Summary: w.Summary, Tags: []string{strings.Split(w.Pattern, "/")[2]}}
		if w.Resource == "" {
			d.problems(op, w.Status, 401, 500)
			d.add(w.Method, w.Pattern, op, false)
			continue
		}
		record, ok := d.records[w.Resource]
		if !ok {
			return fmt.Errorf("describe %s %s: unknown resource %q", w.Method, w.Pattern, w.Resource)
		}
		for _, p := range []string{"Idempotency-Key", "X-Correlation-ID", "X-Causation-ID"} {
			op.Parameters = append(op.Parameters, paramRef(p))
		}
		if w.Method == http.MethodPut || w.Method == http.MethodDelete {
			op.Parameters = append(op.Parameters, paramRef("If-Match"))
		}
		if w.Body != nil {
			body := shape(reflect.TypeOf(w.Body), record, false)
			op.RequestBody = &openapi3.RequestBodyRef{Value: openapi3.NewRequestBody().WithRequired(!w.BodyOptional).WithJSONSchema(body)}
		}
		done := openapi3.NewResponse().WithDescription("The resulting record, as the next read answers it.").WithJSONSchemaRef(ref(d.names[w.Resource]))
		withHeader(done, "ETag", false)
		if w.Answer != nil {
			done = openapi3.NewResponse().WithDescription("What the write did, once the next read shows it.").
				WithJSONSchema(shape(reflect.TypeOf(w.Answer), nil, true))
		}
		withHeader(done, "Idempotent-Replayed", false)
		op.Responses = responses(w.Status, done)
		accepted := acceptedResponse()
		if w.Status == http.StatusAccepted {
			// A write whose success is accepted work (a sync run) answers
			// its record, or, when that cannot be read back in time, what
			// any write answers then.
			accepted = openapi3.NewResponse().WithDescription("The resulting record; or, if it could not be read back in time, where to read it.").
				WithJSONSchema(&openapi3.Schema{AnyOf: openapi3.SchemaRefs{ref(d.names[w.Resource]), acceptedResponse().Content.Get("application/json").Schema}})
			withHeader(accepted, "Idempotent-Replayed", false)
		}
		op.Responses.Set("202", &openapi3.ResponseRef{Value: accepted})
		d.problems(op, writeErrors...)
		d.add(w.Method, w.Pattern, op, false)
	}
	return nil
}

// add registers op at path, with a parameter for each {name} in the
// path; public operations need no token.
func (d *describer) add(method, path string, op *openapi3.Operation, public bool) {
	for _, m := range pathParam.FindAllStringSubmatch(path, -1) {
		p := openapi3.NewPathParameter(m[1]).WithSchema(openapi3.NewStringSchema())
		op.Parameters = append(openapi3.Parameters{{Value: p}}, op.Parameters...)
	}
	if public {
		op.Security = &openapi3.SecurityRequirements{}
	}
	item := d.doc.Paths.Value(path)
	if item == nil {
		item = &openapi3.PathItem{}
		d.doc.Paths.Set(path, item)
	}
	item.SetOperation(method, op)
}

var pathParam = regexp.MustCompile(`\{([^}]+)\}`)

// problems adds the error responses of statuses to op.
func (d *describer) problems(op *openapi3.Operation, codes ...int) {
	if op.Responses == nil {
		op.Responses = openapi3.NewResponses()
	}
	for _, code := range codes {
		i := slices.IndexFunc(statuses, func(s status) bool { return s.status == code })
		if i < 0 {
			panic(fmt.Sprintf("describe: no error response for status %d", code))
		}
		name := statuses[i].name
		op.Responses.Set(strconv.Itoa(code), &openapi3.ResponseRef{Ref: "#/components/responses/" + name,
			Value: d.doc.Components.Responses[name].Value})
	}
}

// listParams are the sort and filter parameters of r's list, from its
// declaration.
func listParams(r *resource.Resource) openapi3.Parameters {
	sorts := append([]string{"id"}, r.Sorts()...)
	quoted := make([]string, len(sorts))
	enum := make([]any, len(sorts))
	for i, s := range sorts {
		quoted[i], enum[i] = regexp.QuoteMeta(s), s
	}
	sort := &openapi3.Schema{AnyOf: openapi3.SchemaRefs{
		openapi3.NewStringSchema().WithEnum(enum...).NewRef(),
		openapi3.NewStringSchema().WithPattern(`^\[\s*"(` + strings.Join(quoted, "|") + `)"\s*,\s*"([Aa][Ss][Cc]|[Dd][Ee][Ss][Cc])"\s*\]$`).NewRef(),
	}}
	by := "descending"
	if !r.DefaultDesc {
		by = "ascending"
	}
	tied := "Records equal in the sort field are ordered by id, in the same direction."
	var ties []string
	for _, f := range sorts {
		if keys := r.SortKeys(f); len(keys) > 1 {
			ties = append(ties, f+" by "+strings.Join(keys[1:], ", "))
		}
	}
	if len(ties) > 0 {
		tied += " Before id, sorted by " + strings.Join(ties, "; ") + "."
	}
	sortParam := openapi3.NewQueryParameter("sort").WithSchema(sort).
		WithDescription(fmt.Sprintf(`A field to sort by (with order), or ["field","ASC|DESC"]. Default: %s, %s. Enums sort in domain order. %s`, r.DefaultSort, by, tied))

	filter := openapi3.NewQueryParameter("filter")
	filter.Description = "A JSON object: a field's value matches it (null: not set), a list of values means any of them; " +
		"the suffixes " + strings.Join(readapi.FilterSuffixes(), ", ") + " compare; q searches text; id with a list reads those records (getMany)."
	filter.Content = openapi3.NewContentWithJSONSchema(filterSchema(r))
	if r.Parent != nil {
		filter.Required = true
	}
	return openapi3.Parameters{{Value: sortParam}, paramRef("order"), {Value: filter}}
}

// filterSchema is the filter object r's list accepts.
func filterSchema(r *resource.Resource) *openapi3.Schema {
	q := openapi3.NewStringSchema()
	if fields := r.SearchFields(); len(fields) > 0 {
		q.Description = "Text searched in " + strings.Join(fields, ", ") + "."
	}
	s := openapi3.NewObjectSchema().WithoutAdditionalProperties().WithProperty("q", q)
	for _, f := range append([]resource.Field{{Name: "id", Kind: resource.Text, Filter: true}}, r.Fields...) {
		if !f.Filter {
			continue
		}
		value := filterValue(f)
		s.WithProperty(f.Name, &openapi3.Schema{AnyOf: openapi3.SchemaRefs{
			nullable(value).NewRef(),
			openapi3.NewArraySchema().WithItems(value).NewRef(),
		}})
		for _, suffix := range readapi.FilterSuffixes() {
			s.WithProperty(f.Name+suffix, nullable(value))
		}
	}
	if r.Parent != nil {
		s.Required = []string{r.ParentField}
	}
	return s
}

// filterValue is what a filter compares f with: a time may be a date
// alone, and a list field matches any of its elements.
func filterValue(f resource.Field) *openapi3.Schema {
	switch f.Kind {
	case resource.Time:
		return openapi3.NewStringSchema().WithPattern(`^[0-9]{4}-[0-9]{2}-[0-9]{2}`)
	case resource.TextList:
		return openapi3.NewStringSchema()
	}
	return fieldSchema(f)
}

// declared is the object the declaration of r describes: its fields, by
// kind, with their enums.
func declared(r *resource.Resource) *openapi3.Schema {
	s := openapi3.NewObjectSchema()
	for _, f := range r.Fields {
		s.WithProperty(f.Name, fieldSchema(f))
	}
	return s
}

// fieldSchema is the schema of a declared field's values.
func fieldSchema(f resource.Field) *openapi3.Schema {
	switch f.Kind {
	case resource.Number:
		return openapi3.NewFloat64Schema()
	case resource.Bool:
		return openapi3.NewBoolSchema()
	case resource.Time:
		return openapi3.NewDateTimeSchema()
	case resource.TextList:
		return openapi3.NewArraySchema().WithItems(openapi3.NewStringSchema())
	case resource.Enum:
		values := make([]any, len(f.Values))
		for i, v := range f.Values {
			values[i] = v
		}
		return openapi3.NewStringSchema().WithEnum(values...)
	}
	return openapi3.NewStringSchema()
}

// sameKind reports whether a record's field (got) holds values of the
// declared kind (want): a number may be an integer.
func sameKind(got, want *openapi3.Schema) bool {
	switch {
	case got == nil || got.Type == nil || want.Type == nil:
		return false
	case want.Type.Is(openapi3.TypeNumber):
		return got.Type.Is(openapi3.TypeNumber) || got.Type.Is(openapi3.TypeInteger)
	case want.Type.Is(openapi3.TypeArray):
		return got.Type.Is(openapi3.TypeArray) && got.Items != nil && sameKind(got.Items.Value, want.Items.Value)
	}
	return got.Type.Is(want.Type.Slice()[0]) && got.Format == want.Format
}

func kindName(s *openapi3.Schema) string {
	if s == nil || s.Type == nil {
		return "missing"
	}
	return strings.TrimSpace(strings.Join(s.Type.Slice(), ",") + " " + s.Format)
}

var (
	timeType = reflect.TypeFor[time.Time]()
	rawType  = reflect.TypeFor[json.RawMessage]()
)

// shape describes the JSON encoding/json reads or writes for a value of
// type t. like, when given, describes the value of the same name
// elsewhere: the declaration a record follows, the record a body writes.
// It lends enums, and the whole description where the Go type says
// nothing (json.RawMessage). In a record (record set) every field without
// omitempty is required, since the encoder always writes it; a body
// requires nothing, since its handler names what is missing (422).
func shape(t reflect.Type, like *openapi3.Schema, record bool) *openapi3.Schema {
	switch t {
	case rawType:
		if like != nil {
			cp := *like
			return &cp
		}
		return &openapi3.Schema{}
	case timeType:
		return openapi3.NewDateTimeSchema()
	}
	switch t.Kind() {
	case reflect.Pointer:
		return nullable(shape(t.Elem(), like, record))
	case reflect.String:
		s := openapi3.NewStringSchema()
		if like != nil {
			s.Enum = like.Enum
		}
		return s
	case reflect.Bool:
		return openapi3.NewBoolSchema()
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return openapi3.NewIntegerSchema()
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return openapi3.NewIntegerSchema().WithMin(0)
	case reflect.Float32, reflect.Float64:
		return openapi3.NewFloat64Schema()
	case reflect.Slice, reflect.Array:
		var items *openapi3.Schema
		if like != nil && like.Items != nil {
			items = like.Items.Value
		}
		return openapi3.NewArraySchema().WithItems(shape(t.Elem(), items, record))
	case reflect.Map:
		return openapi3.NewObjectSchema().WithAdditionalProperties(shape(t.Elem(), nil, record))
	case reflect.Struct:
		s := openapi3.NewObjectSchema().WithoutAdditionalProperties()
		addFields(s, t, like, record)
		return s
	}
	return &openapi3.Schema{}
}

// addFields adds the fields of struct t to s as encoding/json sees them:
// an embedded struct's fields are promoted, and a shallower field hides
// a deeper one of the same name.
func addFields(s *openapi3.Schema, t reflect.Type, like *openapi3.Schema, record bool) {
	for level := []reflect.Type{t}; len(level) > 0; {
		var next []reflect.Type
		for _, t := range level {
			for i := range t.NumField() {
				f := t.Field(i)
				tag := f.Tag.Get("json")
				if tag == "-" {
					continue
				}
				name, opts, _ := strings.Cut(tag, ",")
				if ft := f.Type; f.Anonymous && name == "" {
					if ft.Kind() == reflect.Pointer {
						ft = ft.Elem()
					}
					if ft.Kind() == reflect.Struct {
						next = append(next, ft)
						continue
					}
				}
				if !f.IsExported() {
					continue
				}
				if name == "" {
					name = f.Name
				}
				if _, hidden := s.Properties[name]; hidden {
					continue
				}
				var same *openapi3.Schema
				if like != nil && like.Properties[name] != nil {
					same = like.Properties[name].Value
				}
				s.WithProperty(name, shape(f.Type, same, record))
				if record && !strings.Contains(","+opts+",", ",omitempty,") {
					s.Required = append(s.Required, name)
				}
			}
		}
		level = next
	}
}

// nullable returns a copy of s that also admits null.
func nullable(s *openapi3.Schema) *openapi3.Schema {
	cp := *s
	cp.Nullable = true
	return &cp
}

// pageParams are the paging parameters of every list.
func pageParams() openapi3.Parameters {
	return openapi3.Parameters{paramRef("skip"), paramRef("limit"), paramRef("range")}
}

func ref(schema string) *openapi3.SchemaRef {
	return &openapi3.SchemaRef{Ref: "#/components/schemas/" + schema}
}

func paramRef(name string) *openapi3.ParameterRef {
	return &openapi3.ParameterRef{Ref: "#/components/parameters/" + name}
}

// headers are the response headers the API sends.
var headers = map[string]struct {
	about  string
	schema func() *openapi3.Schema
}{
	"Content-Range":       {"The page and the total: tickets 0-24/42, or tickets */42 for an empty page.", openapi3.NewStringSchema},
	"ETag":                {`The record's revision, quoted ("3"): send it back in If-Match.`, openapi3.NewStringSchema},
	"Retry-After":         {"Seconds to wait before retrying.", openapi3.NewIntegerSchema},
	"WWW-Authenticate":    {"The scheme to authenticate with.", openapi3.NewStringSchema},
	"Location":            {"Where the record will be read once its view has caught up.", openapi3.NewStringSchema},
	"Idempotent-Replayed": {"Set when the answer is the stored response to an earlier request with the same Idempotency-Key.", openapi3.NewBoolSchema},
}

// withHeader adds the header name to r and returns r. Headers are
// written in place rather than referenced from the components: whether
// one is required differs by response, which a reference cannot say.
func withHeader(r *openapi3.Response, name string, required bool) *openapi3.Response {
	h := headers[name]
	if r.Headers == nil {
		r.Headers = openapi3.Headers{}
	}
	r.Headers[name] = &openapi3.HeaderRef{Value: &openapi3.Header{Parameter: openapi3.Parameter{
		Description: h.about, Required: required, Schema: h.schema().NewRef()}}}
	return r
}

// responses returns responses holding r for the status code.
func responses(code int, r *openapi3.Response) *openapi3.Responses {
	return openapi3.NewResponses(openapi3.WithStatus(code, &openapi3.ResponseRef{Value: r}))
}

// camel turns a resource name into a Go-style name: knowledge_chunks →
// KnowledgeChunks.
func camel(name string) string {
	var b strings.Builder
	for _, part := range strings.Split(name, "_") {
		if part != "" {
			b.WriteString(strings.ToUpper(part[:1]) + part[1:])
		}
	}
	return b.String()
}

// acceptedResponse describes web.Accepted: a write recorded whose record
// could not be read back in time.
func acceptedResponse() *openapi3.Response {
	str := openapi3.NewStringSchema
	body := openapi3.NewObjectSchema().
		WithProperty("id", str()).
		WithProperty("status", str().WithEnum("accepted")).
		WithProperty("revision", openapi3.NewIntegerSchema().WithMin(0)).
		WithProperty("position", str()).
		WithProperty("location", str()).
		WithProperty("detail", str()).
		WithProperty("message", str())
	body.Required = []string{"id", "status", "revision", "location", "detail", "message"}
	r := openapi3.NewResponse().WithDescription("Recorded, but the record could not be read back in time (its view is behind): read it from Location shortly. Never repeat the write.").WithJSONSchema(body)
	withHeader(r, "Location", true)
	withHeader(r, "Retry-After", true)
	withHeader(r, "Idempotent-Replayed", false)
	return r
}
