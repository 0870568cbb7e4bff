//! Wire types of the node-agent → recommender reports (filled in by the node-agent issue).
