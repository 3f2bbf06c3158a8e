// Package classify applies a classification plan to many interfaces with Kentik's
// ManualClassify call: as fast as the account's rate limits allow and never faster,
// resumable after a crash, with nothing lost and nothing sent twice beyond the batches
// that were in flight.
//
// A plan is a CSV file with the header
//
//	interface_id,connectivity_type,network_boundary,provider
//
// (columns in any order; other columns are ignored) or a JSON-lines file whose objects
// have those keys. interface_id is a Kentik interface id, a decimal number (anything else
// is a bad row: the server would refuse the whole batch it landed in). Enum values are
// accepted in any case, with or without their prefix ("transit",
// "CONNECTIVITY_TYPE_TRANSIT", "paid-pni"). An empty network_boundary or
// provider means unspecified/none; an empty connectivity_type is an error (write
// "unspecified" to send CONNECTIVITY_TYPE_UNSPECIFIED on purpose), because a blank in the
// column that ManualClassify exists to set is far more often a hole in the data than a
// wish to clear it.
//
// The work is done in two streaming passes over the file:
//
//  1. Load validates every row and builds the groups (rows with the same
//     connectivity_type, network_boundary and provider) and their sizes. Nothing is sent
//     when a row is bad unless Options.SkipInvalid is set.
//  2. Plan.Batches re-reads the file and cuts each group into batches of at most
//     BatchSize ids, numbered per group in file order, so a batch's identity (group,
//     sequence) is the same every time the same plan is run. A Journal records the
//     acknowledged batches, which is what makes a run resumable.
//
// Text must be UTF-8, and a provider may not hold control, invisible or
// direction-changing characters; a row (a JSON line, or a CSV record over all its lines)
// may not pass 64 KiB, so reading one never costs more.
//
// Memory is bounded by the id set of pass 1 (a 64-bit hash and 8 bytes per distinct
// interface in a map: about 45 MiB of heap for a million interfaces), by the groups
// (about 100 bytes and the provider each), and by the open groups' partial batches in
// pass 2, never by the plan's length in rows.
//
// Runner sends the batches through an ifacev1.InterfaceServiceClient. Pacing and retries
// are the client's job (see package client and ratelimit): the runner only keeps as many
// calls queued as it has workers, so the limiter always has the next request ready. With
// an outage budget (Runner.OutageBudget) it also rides out an outage of Kentik: it keeps
// the batches that failed transiently, probes with one call at a time until Kentik
// answers again, and stops with ErrOutage when the budget is spent.
package classify
