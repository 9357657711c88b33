package main

import (
	"net/http"
	"reflect"

	"github.com/getkin/kin-openapi/openapi3"

	"agentdesk/readapi"
)

// auditExportPath is where a company's events are exported.
const auditExportPath = "/api/audit/export"

// auditExport describes GET /api/audit/export. Its body is JSON lines,
// described as the array of the lines it holds.
func (d *describer) auditExport() {
	event, state := shape(reflect.TypeFor[readapi.ExportedEvent](), nil, true), shape(reflect.TypeFor[stateLine](), nil, true)
	record := openapi3.NewObjectSchema()
	record.Description = "the record as it was then"
	state.Properties["record"] = openapi3.NewSchemaRef("", record)
	lines := openapi3.NewArraySchema().WithItems(&openapi3.Schema{AnyOf: openapi3.SchemaRefs{openapi3.NewSchemaRef("", event), openapi3.NewSchemaRef("", state)}})
	lines.Description = "One event per line, in log order: the company's events stored when the export started. " +
		"A line {\"error\": {...}} instead of an event means the export failed there."
	op := &openapi3.Operation{
		OperationID: "exportAudit", Tags: []string{"audit"}, Summary: "Export a company's events as JSON lines (company admin: own company; superadmin: company_id required)",
		Description: "Streams the events with their data and metadata, flushed batch by batch. A company admin exports its own " +
			"company (naming another is 403); a superadmin must name one; other roles get 403.",
		Parameters: openapi3.Parameters{{Value: openapi3.NewQueryParameter("company_id").
			WithDescription("The company to export: required for a superadmin, a company admin's own when omitted.").
			WithSchema(openapi3.NewUUIDSchema())},
			{Value: openapi3.NewQueryParameter("as_of").
				WithDescription("RFC 3339 time: export instead every entity of the company that existed then, as it was then ({resource, id, revision, record} per line).").
				WithSchema(openapi3.NewDateTimeSchema())}},
		Responses: responses(http.StatusOK, openapi3.NewResponse().WithDescription("The events, one JSON object per line.").
			WithContent(openapi3.NewContentWithSchema(lines, []string{"application/x-ndjson"}))),
	}
	ok := op.Responses.Status(http.StatusOK).Value
	ok.Headers = openapi3.Headers{"Content-Disposition": {Value: &openapi3.Header{Parameter: openapi3.Parameter{
		Description: "A file name for the download: audit-<company_id>.ndjson.", Required: true,
		Schema: openapi3.NewStringSchema().NewRef()}}}}
	d.problems(op, 400, 401, 403, 500)
	d.add(http.MethodGet, auditExportPath, op, false)
}
