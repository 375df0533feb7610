package doubletick

import "encoding/json"

// Escalation is the data of sla.escalated (ON_SLA_ESCALATED_PUBLIC): a
// breached conversation is still unanswered at an escalation level.
type Escalation struct {
	SLA      SLA          `json:"sla"`
	Level    *json.Number `json:"level" desc:"escalationLevel: 1, 2, 3…"`
	Business Business     `json:"business"`
	Customer Customer     `json:"customer"`
}

// SLA names the service-level agreement that was breached.
type SLA struct {
	Name                *string      `json:"name"`
	ResponseTimeSeconds *json.Number `json:"responseTimeSeconds" desc:"responseTime: the threshold in seconds."`
}

func normalizeEscalation(p Payload, ch Channel) Normal {
	e := Escalation{
		SLA:      SLA{Name: p.Nullable("slaName"), ResponseTimeSeconds: p.Number("responseTime")},
		Level:    p.Number("escalationLevel"),
		Business: businessOf(p, ch, plusPhone("wabaNumber")),
		Customer: customerOf(p, ch, "", plusPhone("customerPhone")),
	}
	return Normal{Data: e, Account: e.Business.account(), Subject: e.Customer.subject()}
}

// TemplateStatus is the data of template.status.updated (TEMPLATE_UPDATE).
type TemplateStatus struct {
	Template       Template `json:"template"`
	Status         *string  `json:"status" desc:"newStatus: APPROVED, REJECTED, PENDING or PAUSED."`
	PreviousStatus *string  `json:"previousStatus" desc:"oldStatus; null when none was recorded."`
	RejectedReason *string  `json:"rejectedReason" desc:"null unless REJECTED."`
	Agent          Agent    `json:"agent" desc:"Who submitted the template (agentName, agentNumber)."`
	Business       Business `json:"business" desc:"wabaPhoneNumber."`
}

// Template is a WhatsApp message template: name and language identify it.
type Template struct {
	Name     *string `json:"name"`
	Language *string `json:"language"`
}

func normalizeTemplate(p Payload, ch Channel) Normal {
	t := TemplateStatus{
		Template:       Template{Name: p.Nullable("templateName"), Language: p.Nullable("templateLanguage")},
		Status:         p.Nullable("newStatus"),
		PreviousStatus: p.Nullable("oldStatus"),
		RejectedReason: p.NonEmpty("rejectedReason"),
		Agent:          Agent{Name: p.Nullable("agentName"), Phone: p.Nullable("agentNumber")},
		Business:       businessOf(p, ch, plusPhone("wabaPhoneNumber")),
	}
	return Normal{Data: t, Account: t.Business.account()}
}

// AgentStatus is the data of agent.status.changed (ASSIGNED_AGENT_STATUS_CHANGED),
// sent once per WhatsApp Business number where the agent has assigned chats.
type AgentStatus struct {
	Agent          Agent    `json:"agent"`
	Status         *string  `json:"status" desc:"ONLINE or OFFLINE."`
	PreviousStatus *string  `json:"previousStatus"`
	Business       Business `json:"business"`
	CustomerPhones []string `json:"customerPhones" desc:"Phones of the customers whose chats are assigned to the agent, as sent."`
}

func normalizeAgentStatus(p Payload, ch Channel) Normal {
	a := AgentStatus{
		Agent:          Agent{Name: p.Nullable("assignedUserName"), Phone: p.Nullable("assignedUserPhone")},
		Status:         p.Nullable("status"),
		PreviousStatus: p.Nullable("previousStatus"),
		Business:       businessOf(p, ch, plusPhone("wabaNumber")),
		CustomerPhones: stringsOf(p, "customerPhones"),
	}
	return Normal{Data: a, Account: a.Business.account()}
}

// Passthrough is the data of the events DoubleTick names but does not
// document (RAW_CLOUD_API_WEBHOOK and four more): channel and raw only.
type Passthrough struct{}

func normalizePassthrough(Payload, Channel) Normal { return Normal{Data: Passthrough{}} }
