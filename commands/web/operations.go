package web

import (
	"net/http"

	"agentdesk/domain/resource"
)

// Operation describes one write endpoint for the API's description
// (GET /openapi.json). That description is composed where the query and
// the write endpoints meet, in the binary: this package must not know
// the query API, so it hands over its part as plain data. Body is the
// very type the handler decodes, so a described body follows its
// handler. The list stands beside Mount rather than being derived from
// it, so that Mount stays a plain list of routes; a test of the binary
// checks that both name the same routes.
type Operation struct {
	// ID is the operation's stable name (an OpenAPI operationId).
	ID              string
	Method, Pattern string
	// Summary says in a line what the endpoint does.
	Summary string
	// Resource names the resource whose record a success answers; empty
	// for an endpoint that only refuses.
	Resource string
	// Status is the status of a success or, without Resource, the
	// status every request gets.
	Status int
	// Answer, when set, is a zero value of what a success answers instead
	// of a record of Resource (whose view the write still waits for).
	Answer any
	// Body is a zero value of the JSON body the handler decodes; nil
	// when the handler reads none.
	Body any
	// BodyOptional is set when the body may be left out: the actions
	// that take no input read nothing, or {}.
	BodyOptional bool
}

// Operations lists the endpoints Mount registers.
func Operations() []Operation {
	var ops []Operation
	// crud adds create, update and delete of res, with the bodies their
	// handlers decode.
	crud := func(res *resource.Resource, noun string, create, update any) {
		base := "/api/" + res.Name
		ops = append(ops,
			Operation{ID: "create" + noun, Method: http.MethodPost, Pattern: base, Resource: res.Name, Status: http.StatusCreated, Body: create,
				Summary: "Create one of " + res.Name + "; the read-only fields of a record read back are accepted and ignored"},
			Operation{ID: "update" + noun, Method: http.MethodPut, Pattern: base + "/{id}", Resource: res.Name, Status: http.StatusOK, Body: update,
				Summary: "Update one of " + res.Name + "; with its revision (or If-Match) it applies only at that revision, else 409"},
			Operation{ID: "delete" + noun, Method: http.MethodDelete, Pattern: base + "/{id}", Resource: res.Name, Status: http.StatusOK,
				Summary: "Delete one of " + res.Name + "; answers the record as it was (If-Match makes it conditional)"},
		)
	}
	// action adds POST base/{id}/name on res, answering the record.
	action := func(res *resource.Resource, id, name, summary string, body any) {
		op := Operation{ID: id, Method: http.MethodPost, Pattern: "/api/" + res.Name + "/{id}/" + name, Resource: res.Name,
			Status: http.StatusOK, Summary: summary, Body: body}
		if _, ok := body.(emptyBody); ok {
			op.BodyOptional = true
		}
		ops = append(ops, op)
	}

	crud(resource.Companies, "Company", createCompanyBody{}, updateCompanyBody{})
	action(resource.Companies, "suspendCompany", "suspend", "Suspend a company: its users are refused until it is reactivated", emptyBody{})
	action(resource.Companies, "reactivateCompany", "reactivate", "Reactivate a suspended company", emptyBody{})

	crud(resource.Users, "User", createUserBody{}, updateUserBody{})
	action(resource.Users, "deactivateUser", "deactivate", "Deactivate a user: its tokens are refused at once", emptyBody{})
	action(resource.Users, "reactivateUser", "reactivate", "Reactivate a user", emptyBody{})
	action(resource.Users, "forgetUser", "forget", "Erase a user's personal data (email and full name read \"[erased]\" from now on, in the history too); superadmin only", emptyBody{})

	crud(resource.Tickets, "Ticket", openTicketBody{}, updateTicketBody{})
	action(resource.Tickets, "assignTicket", "assign", "Assign a ticket (assignee_id null unassigns)", assignTicketBody{})
	action(resource.Tickets, "changeTicketStatus", "status", "Move a ticket through its lifecycle", ticketStatusBody{})
	ops = append(ops, Operation{ID: "commentTicket", Method: http.MethodPost, Pattern: "/api/" + resource.Tickets.Name + "/{id}/comments",
		Resource: resource.Comments.Name, Status: http.StatusCreated, Body: commentBody{}, Summary: "Comment on a ticket; answers the new comment"})

	crud(resource.Agents, "Agent", createAgentBody{}, updateAgentBody{})
	action(resource.Agents, "activateAgent", "activate", "Activate an agent", emptyBody{})
	action(resource.Agents, "deactivateAgent", "deactivate", "Deactivate an agent", emptyBody{})

	ops = append(ops, Operation{ID: "startSync", Method: http.MethodPost, Pattern: "/api/" + resource.Agents.Name + "/{id}/integrations/{type}/sync",
		Resource: resource.SyncRuns.Name, Status: http.StatusAccepted, Body: emptyBody{}, BodyOptional: true,
		Summary: "Start a knowledge sync of the agent's shopify or wordpress integration; answers the new run (sync_runs), " +
			"which runs in the background: 409 while a run of that integration is running, 422 if the agent has no such integration"})

	crud(resource.Campaigns, "Campaign", createCampaignBody{}, updateCampaignBody{})
	action(resource.Campaigns, "changeCampaignStatus", "status", "Move a campaign through its lifecycle", campaignStatusBody{})

	campaigns, content := "/api/"+resource.Campaigns.Name, "/api/"+resource.CampaignContent.Name
	item := campaigns + "/{campaign_id}/content/{id}"
	answer := resource.CampaignContent.Name
	ops = append(ops,
		Operation{ID: "addCampaignContent", Method: http.MethodPost, Pattern: campaigns + "/{id}/content", Resource: answer,
			Status: http.StatusCreated, Body: addContentBody{}, Summary: "Add a content item to a campaign"},
		Operation{ID: "createCampaignContent", Method: http.MethodPost, Pattern: content, Resource: answer,
			Status: http.StatusCreated, Body: addContentBody{}, Summary: "Add a content item to the campaign named by campaign_id"},
		Operation{ID: "editCampaignContent", Method: http.MethodPut, Pattern: item, Resource: answer,
			Status: http.StatusOK, Body: editContentBody{}, Summary: "Edit a content item (an approved one becomes a draft again)"},
		Operation{ID: "removeCampaignContent", Method: http.MethodDelete, Pattern: item, Resource: answer,
			Status: http.StatusOK, Summary: "Remove a content item; answers the item as it was"},
		Operation{ID: "approveCampaignContent", Method: http.MethodPost, Pattern: item + "/approve", Resource: answer,
			Status: http.StatusOK, Body: emptyBody{}, BodyOptional: true, Summary: "Approve a content item"},
		Operation{ID: "publishCampaignContent", Method: http.MethodPost, Pattern: item + "/publish", Resource: answer,
			Status: http.StatusOK, Body: emptyBody{}, BodyOptional: true, Summary: "Publish an approved content item of an active campaign"},
		// See contentMoved: an item's commands need its campaign's id.
		Operation{ID: "updateCampaignContentMoved", Method: http.MethodPut, Pattern: content + "/{id}", Status: http.StatusMethodNotAllowed,
			Summary: "Refused: content items are changed at " + item},
		Operation{ID: "deleteCampaignContentMoved", Method: http.MethodDelete, Pattern: content + "/{id}", Status: http.StatusMethodNotAllowed,
			Summary: "Refused: content items are removed at " + item},
	)

	crud(resource.KnowledgeChunks, "KnowledgeChunk", createKnowledgeBody{}, updateKnowledgeBody{})

	notifications := "/api/" + resource.Notifications.Name
	action(resource.Notifications, "markNotificationRead", "read", "Mark one of your notifications read", emptyBody{})
	ops = append(ops,
		Operation{ID: "markAllNotificationsRead", Method: http.MethodPost, Pattern: notifications + "/read_all", Resource: resource.Notifications.Name,
			Status: http.StatusOK, Body: emptyBody{}, BodyOptional: true, Answer: MarkedRead{},
			Summary: "Mark every unread notification of yours read; answers how many were"},
		// See notificationsCreatedByPlatform.
		Operation{ID: "createNotificationRefused", Method: http.MethodPost, Pattern: notifications, Status: http.StatusMethodNotAllowed,
			Summary: "Refused: notifications are created by the platform, not over the API"},
	)
	return ops
}
