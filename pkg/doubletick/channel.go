package doubletick

// Channel is the messaging channel an event belongs to; it is a subject
// token, so it is always one of the constants below.
type Channel string

// The channels of contract §3.
const (
	WhatsApp  Channel = "whatsapp"
	Instagram Channel = "instagram"
	Generic   Channel = "generic"
	PSTN      Channel = "pstn"
	Web       Channel = "web"
)

// DefaultChannel is used when neither the payload nor the URL names one.
const DefaultChannel = WhatsApp

// channelNames maps DoubleTick's channelType / integrationType values (and
// the `?channel=` URL parameter) to channels.
var channelNames = map[string]Channel{
	"WHATSAPP":        WhatsApp,
	"INSTAGRAM":       Instagram,
	"GENERIC":         Generic,
	"GENERIC_CHANNEL": Generic,
	"PSTN":            PSTN,
	"WEB":             Web,
	"WIDGET":          Web,
}

// ParseChannel maps a channel name to a Channel; ok is false for a name
// that is not one of contract §3's channels.
func ParseChannel(name string) (Channel, bool) {
	c, ok := channelNames[upper(name)]
	return c, ok
}

// channelOf decides an event's channel: the payload's channelType,
// integrationType or channel (PSTN calls) first, then the URL's ?channel=
// hint, then the event's own channel (web for widget leads), then
// [DefaultChannel]. A value the payload sends that is not a known channel
// becomes [Generic] (the original stays in data.raw): contract §3 allows only
// the five channels, and an unknown value must not invent subject tokens.
func channelOf(p Payload, hint string, eventDefault Channel) Channel {
	for _, k := range []string{"channelType", "integrationType", "channel"} {
		if v, ok := p.String(k); ok && v != "" {
			if c, ok := ParseChannel(v); ok {
				return c
			}
			return Generic
		}
	}
	if c, ok := ParseChannel(hint); ok {
		return c
	}
	if eventDefault != "" {
		return eventDefault
	}
	return DefaultChannel
}
