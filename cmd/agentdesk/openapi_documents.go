package main

import (
	"fmt"
	"net/http"

	"github.com/getkin/kin-openapi/openapi3"

	"agentdesk/commands/web"
	"agentdesk/domain/resource"
)

// documents describes the multipart writes of knowledge documents and
// the download of their files (their reads are described with every
// resource's).
func (d *describer) documents() {
	base := "/api/" + resource.KnowledgeDocuments.Name
	record := ref(d.names[resource.KnowledgeDocuments.Name])
	form := func(create bool) *openapi3.RequestBodyRef {
		file := openapi3.NewStringSchema().WithFormat("binary")
		file.Description = fmt.Sprintf("The file: text, Markdown, HTML or PDF, at most %d bytes. Its kind is sniffed from its content; "+
			"its declared type and name only tell Markdown and HTML from plain text.", web.MaxDocument)
		s := openapi3.NewObjectSchema().WithProperty("file", file).
			WithProperty("title", openapi3.NewStringSchema().WithMaxLength(200))
		s.Properties["title"].Value.Description = "Titles the document and its chunks; by default the file's name (a new version keeps its title)."
		required := []string{"file"}
		if create {
			s.WithProperty("agent_id", openapi3.NewUUIDSchema()).WithProperty("company_id", openapi3.NewUUIDSchema())
			s.Properties["company_id"].Value.Description = "The company, for a superadmin only."
			required = append(required, "agent_id")
		}
		s.WithRequired(required)
		return &openapi3.RequestBodyRef{Value: openapi3.NewRequestBody().WithRequired(true).
			WithContent(openapi3.Content{"multipart/form-data": openapi3.NewMediaType().WithSchema(s)})}
	}
	answer := func() *openapi3.Response {
		r := openapi3.NewResponse().WithDescription("The document, ingested: its chunks are written (GET /api/knowledge_chunks?filter={\"document_id\": id}).").
			WithJSONSchemaRef(record)
		return withHeader(r, "ETag", false)
	}
	ids := openapi3.Parameters{paramRef("X-Correlation-ID"), paramRef("X-Causation-ID")}

	op := &openapi3.Operation{OperationID: "uploadKnowledgeDocument", Tags: []string{resource.KnowledgeDocuments.Name},
		Summary: "Upload a document for an agent: its text split into knowledge chunks along headings and paragraphs",
		Description: fmt.Sprintf("The file is stored as a blob, its text extracted and split into chunks of at most %d tokens, each titled "+
			"by its heading path (\"Guide › Returns\"). Over %d bytes: 413; not text, Markdown, HTML or PDF: 415; no text in it: 422.",
			web.ChunkTokens, web.MaxDocument),
		Parameters: ids, RequestBody: form(true), Responses: responses(http.StatusCreated, answer())}
	op.Responses.Set("202", &openapi3.ResponseRef{Value: acceptedResponse()})
	d.problems(op, writeErrors...)
	d.add(http.MethodPost, base, op, false)

	op = &openapi3.Operation{OperationID: "replaceKnowledgeDocument", Tags: []string{resource.KnowledgeDocuments.Name},
		Summary: "Upload a new version of a document: only the chunks that changed are replaced",
		Description: "Chunks whose title and content are unchanged keep their ids; new ones are created and vanished ones deleted. " +
			"The same file again changes nothing (and finishes an ingestion cut short).",
		Parameters: append(append(openapi3.Parameters{}, ids...), paramRef("If-Match")), RequestBody: form(false),
		Responses: responses(http.StatusOK, answer())}
	op.Responses.Set("202", &openapi3.ResponseRef{Value: acceptedResponse()})
	d.problems(op, writeErrors...)
	d.add(http.MethodPut, base+"/{id}", op, false)

	done := openapi3.NewResponse().WithDescription("The document as it was; its chunks and file are deleted with it.").WithJSONSchemaRef(record)
	op = &openapi3.Operation{OperationID: "deleteKnowledgeDocument", Tags: []string{resource.KnowledgeDocuments.Name},
		Summary:     "Delete a document, its chunks and its file",
		Description: "A delete cut short (chunks or the file left) is finished by the next delete of the document, which then answers 404.",
		Parameters:  append(append(openapi3.Parameters{paramRef("Idempotency-Key")}, ids...), paramRef("If-Match")),
		Responses:   responses(http.StatusOK, withHeader(done, "Idempotent-Replayed", false))}
	op.Responses.Set("202", &openapi3.ResponseRef{Value: acceptedResponse()})
	d.problems(op, writeErrors...)
	d.add(http.MethodDelete, base+"/{id}", op, false)

	file := openapi3.NewResponse().WithDescription("The file as uploaded, with its content type and a Content-Disposition naming it.").
		WithContent(openapi3.Content{"*/*": openapi3.NewMediaType().WithSchema(openapi3.NewStringSchema().WithFormat("binary"))})
	moved := openapi3.NewResponse().WithDescription("With AWS_S3_BUCKET set: Location is a presigned URL of the file, valid for five minutes.")
	withHeader(moved, "Location", true)
	op = &openapi3.Operation{OperationID: "downloadKnowledgeDocument", Tags: []string{resource.KnowledgeDocuments.Name},
		Summary: "Download a document's file", Responses: responses(http.StatusOK, file)}
	op.Responses.Set("302", &openapi3.ResponseRef{Value: moved})
	d.problems(op, 401, 404, 500, 503)
	d.add(http.MethodGet, base+"/{id}/file", op, false)
}

// attachments describes the multipart upload, removal and download of
// ticket attachments (their reads are described with every resource's).
func (d *describer) attachments() {
	tag := []string{resource.TicketAttachments.Name}
	record := ref(d.names[resource.TicketAttachments.Name])
	file := openapi3.NewStringSchema().WithFormat("binary")
	file.Description = fmt.Sprintf("Any file of at most %d bytes; its content type is sniffed from its content.", web.MaxDocument)
	form := openapi3.NewObjectSchema().WithProperty("file", file).WithRequired([]string{"file"})
	ids := openapi3.Parameters{paramRef("X-Correlation-ID"), paramRef("X-Causation-ID")}

	op := &openapi3.Operation{OperationID: "attachToTicket", Tags: tag,
		Summary:     "Attach a file to a ticket (whoever may comment on it)",
		Description: "The attachment is part of the ticket's history (ticket.attachment_added). Closed tickets take no attachments (422).",
		Parameters:  ids,
		RequestBody: &openapi3.RequestBodyRef{Value: openapi3.NewRequestBody().WithRequired(true).
			WithContent(openapi3.Content{"multipart/form-data": openapi3.NewMediaType().WithSchema(form)})},
		Responses: responses(http.StatusCreated, openapi3.NewResponse().WithDescription("The attachment.").WithJSONSchemaRef(record))}
	op.Responses.Set("202", &openapi3.ResponseRef{Value: acceptedResponse()})
	d.problems(op, writeErrors...)
	d.add(http.MethodPost, "/api/tickets/{id}/attachments", op, false)

	done := openapi3.NewResponse().WithDescription("The attachment as it was; its file is deleted.").WithJSONSchemaRef(record)
	op = &openapi3.Operation{OperationID: "detachFromTicket", Tags: tag,
		Summary:    "Remove an attachment (whoever may edit the ticket, or its uploader)",
		Parameters: append(openapi3.Parameters{paramRef("Idempotency-Key")}, ids...),
		Responses:  responses(http.StatusOK, withHeader(done, "Idempotent-Replayed", false))}
	op.Responses.Set("202", &openapi3.ResponseRef{Value: acceptedResponse()})
	d.problems(op, writeErrors...)
	d.add(http.MethodDelete, "/api/tickets/{ticket_id}/attachments/{id}", op, false)

	body := openapi3.NewResponse().WithDescription("The file, as a download (Content-Disposition: attachment).").
		WithContent(openapi3.Content{"*/*": openapi3.NewMediaType().WithSchema(openapi3.NewStringSchema().WithFormat("binary"))})
	moved := openapi3.NewResponse().WithDescription("With AWS_S3_BUCKET set: Location is a presigned URL of the file, valid for five minutes.")
	withHeader(moved, "Location", true)
	op = &openapi3.Operation{OperationID: "downloadTicketAttachment", Tags: tag, Summary: "Download an attachment's file",
		Responses: responses(http.StatusOK, body)}
	op.Responses.Set("302", &openapi3.ResponseRef{Value: moved})
	d.problems(op, 401, 404, 500, 503)
	d.add(http.MethodGet, "/api/tickets/{ticket_id}/attachments/{id}/file", op, false)
}
