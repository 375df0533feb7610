package doubletick

// events is the event table: one row per DoubleTick event (contract §6).
// Adding an event is one row here and its fixtures under testdata/fixtures/;
// its JSON Schema is generated from the type its Normalize returns
// (go test ./pkg/doubletick -update).
func events() []EventSpec {
	return []EventSpec{
		// Conversation management.
		{
			Name: "CONVERSATION_OPENED", Aliases: []string{"COVERSATION_OPENED"}, // typo in DoubleTick's register guide
			Type: "conversation.opened", Version: 1,
			Evidence:     func(p Payload) bool { return p.True("conversationOpened") },
			EvidenceKind: Flag, EvidenceDoc: "`conversationOpened: true`",
			Normalize: normalizeConversation,
			Summary:   "A customer started a new conversation or reopened a closed one (WhatsApp, Instagram). No key: DoubleTick itself sends it at most once per 120 s per customer.",
		},
		{
			Name: "CLOSE_CONVERSATION", Type: "conversation.closed", Version: 1,
			Evidence:     func(p Payload) bool { return p.True("closeConversation") },
			EvidenceKind: Flag, EvidenceDoc: "`closeConversation: true`",
			Normalize: normalizeConversation,
			Summary:   "A conversation was closed or marked as done (WhatsApp, Instagram).",
		},
		{
			Name: "CHAT_ASSIGNED_TO_AGENT", Type: "conversation.assigned", Version: 1,
			Evidence: func(p Payload) bool {
				return p.NonEmpty("chatId") != nil && p.NonEmpty("assignedUserId") != nil && !p.Has("callId")
			},
			EvidenceKind: Shape, EvidenceDoc: "`chatId` + `assignedUserId`, no `callId`",
			Normalize: normalizeAssigned,
			Summary:   "A conversation was assigned or reassigned to an agent.",
		},
		{
			Name: "CHAT_UNASSIGNED", Type: "conversation.unassigned", Version: 1,
			// Only a chat id and a customer: a weak shape, so it must be
			// exactly the documented one.
			Evidence: func(p Payload) bool {
				return p.NonEmpty("chatId") != nil && p.NonEmpty("dtCustomerId") != nil &&
					p.KeysWithin("chatId", "customerPhone", "wabaNumber", "dtCustomerId")
			},
			EvidenceKind: Shape, EvidenceDoc: "`chatId` + `dtCustomerId`, no fields besides the documented four",
			Normalize: normalizeUnassigned,
			Summary:   "A conversation was unassigned.",
		},
		{
			Name: "CONVERSATION_COST_DEDUCTED", Type: "conversation.cost.deducted", Version: 1,
			Evidence: func(p Payload) bool {
				return p.NonEmpty("conversationId") != nil && p.NonEmpty("conversationType") != nil && p.Number("cost") != nil
			},
			EvidenceKind: Shape, EvidenceDoc: "`conversationId` + `conversationType` + numeric `cost`",
			Normalize: normalizeCost,
			Key:       []string{"conversationId"},
			Summary:   "A billing conversation window was charged (WhatsApp Cloud API).",
		},

		// Messaging.
		{
			Name: "MESSAGE_RECEIVED", Type: "message.received", Version: 1,
			// Not an ad-attributed message (see CALL_TO_WHATSAPP_MESSAGE_RECEIVED)
			// and not a group message (type "wa_group").
			Evidence: func(p Payload) bool {
				return inboundShape(p) && !p.Has("type") && !p.Has("referralObject")
			},
			EvidenceKind: Shape, EvidenceDoc: "`message` + `dtMessageId` + `from` + `to`; no `type`, no `referralObject`",
			Normalize: normalizeInbound,
			Key:       []string{"dtMessageId"},
			TimeField: "receivedAt",
			Summary:   "A customer sent a message in a one-to-one chat.",
		},
		{
			Name: "CALL_TO_WHATSAPP_MESSAGE_RECEIVED", Type: "message.ad_referral.received", Version: 1,
			// Never inferred: DoubleTick sends MESSAGE_RECEIVED for the same
			// message, and nothing documents that its body lacks the referral.
			// Filing one as the other would also deduplicate it away.
			Normalize: normalizeAdInbound,
			Key:       []string{"dtMessageId"},
			TimeField: "receivedAt",
			Summary:   "A customer message attributed to a Click-to-WhatsApp ad (sent besides message.received).",
		},
		{
			Name: "MESSAGE_STATUS_UPDATE", Type: "message.status.updated", Version: 1,
			Evidence: func(p Payload) bool {
				switch upperOf(p, "status") {
				case "SENT", "DELIVERED", "READ", "FAILED":
					return p.Has("statusTimestamp") && p.NonEmpty("messageId") != nil && !p.Has("event")
				}
				return false
			},
			EvidenceKind: Shape, EvidenceDoc: "`status` SENT/DELIVERED/READ/FAILED + `statusTimestamp` + `messageId`",
			Normalize: normalizeStatus,
			Key:       []string{"messageId", "status"},
			TimeField: "statusTimestamp",
			Summary:   "An outbound message was sent, delivered, read or failed (WhatsApp, Instagram).",
		},

		// Customer data.
		{
			Name: "ADD_TAG", Type: "customer.tag.added", Version: 1,
			Evidence:     func(p Payload) bool { return p.True("tagAdded") },
			EvidenceKind: Flag, EvidenceDoc: "`tagAdded: true`",
			Normalize: normalizeTag,
			Summary:   "A tag was added to a customer (WhatsApp, Instagram, generic channel, PSTN).",
		},
		{
			Name: "REMOVE_TAG", Type: "customer.tag.removed", Version: 1,
			Evidence:     func(p Payload) bool { return p.True("tagRemoved") },
			EvidenceKind: Flag, EvidenceDoc: "`tagRemoved: true`",
			Normalize: normalizeTag,
			Summary:   "A tag was removed from a customer.",
		},
		{
			Name: "UPDATE_CUSTOMER_CUSTOM_FIELD", Type: "customer.field.updated", Version: 1,
			Evidence: func(p Payload) bool {
				switch upperOf(p, "customFieldEventType") {
				case "ATTRIBUTE_SET", "ATTRIBUTE_UPDATE", "ATTRIBUTE_REMOVED":
					return p.NonEmpty("customFieldId") != nil
				}
				return false
			},
			EvidenceKind: Shape, EvidenceDoc: "`customFieldEventType` ATTRIBUTE_SET/UPDATE/REMOVED + `customFieldId`",
			Normalize: normalizeField,
			Key:       []string{"dtCustomerId", "customFieldId", "changedAt"},
			TimeField: "changedAt",
			Summary:   "A customer's custom field was set, changed or removed.",
		},
		{
			Name: "CUSTOMER_NOTE_CREATED", Type: "customer.note.created", Version: 1,
			EventValues: []string{"note-created"},
			Normalize:   noteNormalizer("created"),
			Key:         []string{"noteId", "createdAt"},
			TimeField:   "createdAt",
			Summary:     "An agent wrote a note on a customer.",
		},
		{
			Name: "CUSTOMER_NOTE_UPDATED", Type: "customer.note.updated", Version: 1,
			EventValues: []string{"note-updated"},
			Normalize:   noteNormalizer("updated"),
			Key:         []string{"noteId", "updatedAt"},
			TimeField:   "updatedAt",
			Summary:     "A customer note was edited (the full new text).",
		},
		{
			Name: "CUSTOMER_NOTE_DELETED", Type: "customer.note.deleted", Version: 1,
			EventValues: []string{"note-deleted"},
			Normalize:   noteNormalizer("deleted"),
			Key:         []string{"noteId", "deletedAt"},
			TimeField:   "deletedAt",
			Summary:     "A customer note was deleted (the deleted text included).",
		},

		// Leads.
		{
			Name: "NEW_LEAD", Type: "lead.created", Version: 1,
			Evidence:     func(p Payload) bool { return p.True("newLead") },
			EvidenceKind: Flag, EvidenceDoc: "`newLead: true`",
			Normalize: normalizeLead,
			Key:       []string{"dtCustomerId"},
			Summary:   "A customer's first-ever message to the business (at most once per customer).",
		},
		{
			Name: "WIDGET_LEAD_RECEIVED", Type: "lead.widget.received", Version: 1,
			Evidence:     func(p Payload) bool { return p.KeysWithin("data") && isForm(p.Array("data")) },
			EvidenceKind: Shape, EvidenceDoc: "only `data[]` of `{field, value}`",
			Normalize: normalizeWidgetLead,
			Channel:   Web,
			Summary:   "A website widget form was submitted (anonymous).",
		},
		{
			Name: "VERIFIED_WIDGET_LEAD_RECEIVED", Type: "lead.widget.verified", Version: 1,
			Evidence: func(p Payload) bool {
				return p.True("verified") && p.NonEmpty("whatsappNumber") != nil && isForm(p.Array("data")) &&
					p.KeysWithin("whatsappNumber", "verified", "data", "dtCustomerId")
			},
			EvidenceKind: Flag, EvidenceDoc: "`verified: true` + `whatsappNumber` + `data[]`, nothing else",
			Normalize: normalizeWidgetLead,
			Summary:   "A widget lead was linked to a WhatsApp customer.",
		},

		// SLA, templates, agents.
		{
			Name: "ON_SLA_ESCALATED_PUBLIC", Type: "sla.escalated", Version: 1,
			EventValues: []string{"ON_SLA_ESCALATED_PUBLIC"},
			Normalize:   normalizeEscalation,
			Key:         []string{"wabaNumber", "customerPhone", "escalationLevel"},
			Summary:     "An SLA breach reached an escalation level (WhatsApp only).",
		},
		{
			Name: "TEMPLATE_UPDATE", Type: "template.status.updated", Version: 1,
			EventValues: []string{"TEMPLATE_STATUS_UPDATE"},
			Normalize:   normalizeTemplate,
			Key:         []string{"wabaPhoneNumber", "templateName", "templateLanguage", "oldStatus?", "newStatus"},
			Summary:     "A message template's approval status changed.",
		},
		{
			Name: "ASSIGNED_AGENT_STATUS_CHANGED", Type: "agent.status.changed", Version: 1,
			EventValues: []string{"ASSIGNED_AGENT_STATUS_CHANGED"},
			Normalize:   normalizeAgentStatus,
			Summary:     "An agent with assigned chats went online or offline (one event per business number).",
		},

		// Calls (WhatsApp voice; PSTN for five of them).
		callEvent("CALL_INCOMING_INITIATED", "call.incoming.initiated", "", "A customer is calling."),
		callEvent("CALL_OUTGOING_INITIATED", "call.outgoing.initiated", "", "An agent started a call to a customer."),
		callEvent("CALL_ACCEPTED", "call.accepted", "callStartedAt", "A call was answered."),
		callEvent("CALL_ENDED", "call.ended", "callEndedAt", "A call ended."),
		callEvent("CALL_REJECTED", "call.rejected", "", "A call was rejected."),
		callEvent("CALL_MISSED", "call.missed", "callEndedAt", "A call was missed."),
		{
			Name: "CALL_NOT_PICKED", Type: "call.not_picked", Version: 1,
			EventValues: []string{"CALL_NOT_PICKED"},
			Normalize:   normalizeCall,
			// No key: DoubleTick sends one per agent skipped while the call
			// rings, and nothing in the body tells them apart.
			Summary: "An agent did not pick up a ringing call (one per agent skipped).",
		},
		{
			Name: "CALL_PERMISSION_REPLY_RECEIVED", Type: "call.permission.replied", Version: 1,
			Evidence: func(p Payload) bool {
				r, _ := p.String("response")
				return (r == "accept" || r == "reject") && p.Has("responseSource") &&
					p.NonEmpty("messageId") != nil && !p.Has("message")
			},
			EvidenceKind: Shape, EvidenceDoc: "`response` accept/reject + `responseSource` + `messageId`, no `message`",
			Normalize: normalizePermissionReply,
			Key:       []string{"messageId"},
			TimeField: "receivedAt",
			Summary:   "A customer answered a request for permission to call them.",
		},

		// WhatsApp groups.
		groupEvent("GROUP_CREATED", "group.created", "groupCreatedAt", "A WhatsApp group was created."),
		groupEvent("GROUP_PARTICIPANT_JOINED", "group.participant.joined", "participantJoinedAt", "Someone joined a WhatsApp group."),
		groupEvent("GROUP_PARTICIPANT_LEFT", "group.participant.left", "participantLeftAt", "Someone left a WhatsApp group."),
		groupEvent("GROUP_PARTICIPANT_REMOVED", "group.participant.removed", "participantRemovedAt", "Someone was removed from a WhatsApp group."),
		{
			Name: "WA_GROUP_MESSAGE_RECEIVED", Type: "group.message.received", Version: 1,
			Evidence: func(p Payload) bool {
				t, _ := p.String("type")
				return t == "wa_group" && inboundShape(p) && !p.Has("referralObject")
			},
			EvidenceKind: Shape, EvidenceDoc: "`type: \"wa_group\"` + `message` + `dtMessageId` + `from` + `to`",
			Normalize: normalizeGroupInbound,
			Key:       []string{"dtMessageId"},
			TimeField: "receivedAt",
			Summary:   "A message in a WhatsApp group the workspace knows.",
		},

		// Named by DoubleTick, payload undocumented: channel and raw only,
		// never inferred.
		passthrough("RAW_CLOUD_API_WEBHOOK", "raw.cloud_api", "Meta's WhatsApp Cloud API webhook, forwarded (payload undocumented)."),
		passthrough("CUSTOMER_BUSINESS_CHAT_OPEN", "customer.business_chat.opened", "Payload undocumented."),
		passthrough("POST_CALL_DISPOSITION", "call.disposition.posted", "Payload undocumented."),
		passthrough("STANDBY_MESSAGE_RECEIVED", "message.standby.received", "Payload undocumented."),
		passthrough("MESSAGING_HANDOVER", "messaging.handover", "Payload undocumented."),
	}
}

// callEvent is a call lifecycle row: the payload names the event, and
// callId identifies the call.
func callEvent(name, typ, timeField, summary string) EventSpec {
	return EventSpec{
		Name: name, Type: typ, Version: 1,
		EventValues: []string{name},
		Normalize:   normalizeCall,
		Key:         []string{"callId"},
		TimeField:   timeField,
		Summary:     summary,
	}
}

// groupEvent is a group lifecycle row: the payload names the event.
func groupEvent(name, typ, timeField, summary string) EventSpec {
	key := []string{"groupId", timeField}
	if name != "GROUP_CREATED" {
		key = []string{"groupId", "customerPhone", timeField}
	}
	return EventSpec{
		Name: name, Type: typ, Version: 1,
		EventValues: []string{name},
		Normalize:   groupNormalizer(timeField),
		Key:         key,
		TimeField:   timeField,
		Summary:     summary,
	}
}

// passthrough is a row for an event whose payload DoubleTick does not
// document: accepted on its own URL only.
func passthrough(name, typ, summary string) EventSpec {
	return EventSpec{Name: name, Type: typ, Version: 1, Normalize: normalizePassthrough, Summary: summary}
}

// inboundShape is the shape of an inbound message: a message object, the
// DoubleTick message id, and both parties.
func inboundShape(p Payload) bool {
	return p.Object("message") != nil && p.NonEmpty("dtMessageId") != nil && p.Has("from") && p.Has("to") && !p.Has("event")
}

// isForm reports whether a is a non-empty list of {field, value} objects.
func isForm(a []any) bool {
	if len(a) == 0 {
		return false
	}
	for _, v := range a {
		m, ok := v.(map[string]any)
		if !ok || !Payload(m).Has("field") || !Payload(m).KeysWithin("field", "value") {
			return false
		}
	}
	return true
}
