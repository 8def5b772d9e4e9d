package dev.ds4j.agent;

import com.fasterxml.jackson.databind.JsonNode;
import dev.ds4j.chat.Message;
import dev.ds4j.chat.ParsedCompletion;
import dev.ds4j.chat.RenderOptions;

import java.util.List;
import java.util.Objects;
import java.util.function.BooleanSupplier;

/** One model turn for the agent loop: the conversation so far in, the parsed completion out. */
public interface ModelClient {

    /**
     * The model's answer to one turn. The raw text is kept besides the parse so the trajectory log can be
     * replayed against a later parser. {@code cachedPromptTokens} of the prompt were not computed again (a KV
     * prefix kept from the previous turn, or a server's prefix cache as its usage reports it).
     */
    record Completion(ParsedCompletion parsed, String rawText, int promptTokens, int completionTokens,
                      boolean truncated, int cachedPromptTokens) {
        public Completion {
            Objects.requireNonNull(parsed, "parsed");
            Objects.requireNonNull(rawText, "rawText");
        }

        public Completion(ParsedCompletion parsed, String rawText, int promptTokens, int completionTokens, boolean truncated) {
            this(parsed, rawText, promptTokens, completionTokens, truncated, 0);
        }
    }

    /** A name for the run_start record (which model answered). */
    String modelName();

    /** Generates the assistant's next turn after {@code messages}, with {@code tools} declared. */
    Completion complete(List<Message> messages, List<JsonNode> tools, RenderOptions options);

    /**
     * As above, ending early with a {@link java.util.concurrent.CancellationException} once {@code cancelled}
     * answers true. Clients that cannot stop midway finish the turn (the default).
     */
    default Completion complete(List<Message> messages, List<JsonNode> tools, RenderOptions options,
                                BooleanSupplier cancelled) {
        return complete(messages, tools, options);
    }
}
