package dev.ds4j.server;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.ds4j.chat.ChatFormatException;
import dev.ds4j.chat.Message;
import dev.ds4j.chat.MessageReader;
import dev.ds4j.chat.PyJson;
import dev.ds4j.chat.RenderOptions;
import dev.ds4j.generate.Engine;
import dev.ds4j.generate.Generator;
import dev.ds4j.generate.SamplingParams;
import io.javalin.http.Context;

import java.io.IOException;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.concurrent.LinkedBlockingQueue;

/**
 * POST /v1/responses, OpenAI's Responses API, stateless: the request carries the whole conversation as
 * input items, which are translated to chat messages and rendered by the same protocol code as chat
 * completions. Output items are reasoning, message and function_call, streamed as the API's typed events.
 */
final class ResponsesApi {
    private final OpenAiServer server;

    ResponsesApi(OpenAiServer server) { this.server = server; }

    void create(Context ctx) throws IOException {
        JsonNode r = OpenAiServer.body(ctx);
        server.checkModel(r);
        if (r.hasNonNull("previous_response_id"))
            throw ApiException.badRequest("previous_response_id", "previous_response_id: this server stores no responses; "
                    + "send the whole conversation in input (reasoning items included)");
        ObjectNode chat = PyJson.MAPPER.createObjectNode();
        for (String f : new String[]{"temperature", "top_p", "top_k", "min_p", "seed", "stop", "logit_bias",
                "presence_penalty", "frequency_penalty", "repetition_penalty", "thinking", "chat_template_kwargs"})
            if (r.has(f)) chat.set(f, r.get(f));
        if (r.has("max_output_tokens")) chat.set("max_tokens", r.get("max_output_tokens"));
        JsonNode reasoning = r.get("reasoning");
        if (reasoning != null && !reasoning.isNull()) {
            if (!reasoning.isObject()) throw ApiException.badRequest("reasoning", "reasoning: must be an object like {\"effort\": \"high\"}");
            if (reasoning.hasNonNull("effort")) chat.set("reasoning_effort", reasoning.get("effort"));
        }
        SamplingParams params = RequestReader.sampling(chat);
        RenderOptions mode = RequestReader.mode(chat);
        ArrayNode messages = ResponsesInput.messages(r.get("instructions"), r.get("input"));
        List<Message> msgs;
        List<JsonNode> tools;
        try {
            msgs = MessageReader.messages(messages, "input");
            tools = MessageReader.tools(ResponsesInput.tools(r.get("tools")), "tools");
        } catch (ChatFormatException e) {
            throw ApiException.badRequest(null, "input (as chat messages): " + e.getMessage());
        }
        JsonNode choice = r.get("tool_choice");
        String required = null;
        if (choice != null && !choice.isNull()) {
            if (choice.isTextual() && choice.textValue().equals("none")) tools = List.of();
            else if (choice.isTextual() && choice.textValue().equals("required")) required = "";
            else if (choice.isObject() && "function".equals(choice.path("type").asText()) && choice.path("name").isTextual()) required = choice.get("name").textValue();
            else if (!(choice.isTextual() && choice.textValue().equals("auto")))
                throw ApiException.badRequest("tool_choice", "tool_choice: must be none, auto, required or {\"type\": \"function\", \"name\": …}");
        }
        required = OpenAiServer.checkToolChoice(required, tools, "tool_choice");
        int[] ids = server.promptIds(msgs, tools, ResponsesInput.responseFormat(r.path("text").get("format")), mode, params);

        String id = "resp_" + Ids.hex(24);
        long created = System.currentTimeMillis() / 1000;
        ChatTurn turn = new ChatTurn(mode.thinkingMode());
        Engine engine = server.engine();
        boolean stream = r.path("stream").asBoolean(false);
        if (!stream) {
            Output o = new Output(id, created, r, null);
            Generator.Result res = TurnRunner.complete(engine.submit(ids, params, server.forcing(r, mode, required), null), turn, o::accept);
            ctx.json(o.finish(res, turn));
            return;
        }
        LinkedBlockingQueue<String> pieces = new LinkedBlockingQueue<>();
        Engine.Job job = engine.submit(ids, params, server.forcing(r, mode, required), pieces::add);
        OutputStream out = OpenAiServer.startSse(ctx);
        Output o = new Output(id, created, r, out);
        try {
            o.event("response.created", PyJson.MAPPER.createObjectNode().set("response", o.response("in_progress")));
            o.event("response.in_progress", PyJson.MAPPER.createObjectNode().set("response", o.response("in_progress")));
        } catch (IOException e) {
            job.cancel();
            return;
        }
        Generator.Result res = TurnRunner.stream(job, pieces, turn, o::accept);
        if (res == null) return;
        try {
            ObjectNode done = o.finish(res, turn);
            o.event(done.path("status").asText().equals("completed") ? "response.completed" : "response.incomplete",
                    PyJson.MAPPER.createObjectNode().set("response", done));
        } catch (IOException ignored) {
            // the client left after the last token
        }
    }

    /**
     * The response's output items, built from the turn's deltas; when streaming, every change is also
     * sent as an event. One item is open at a time: reasoning, then message text, then function calls.
     */
    private final class Output {
        private final String id;
        private final long created;
        private final JsonNode request;
        private final OutputStream out;
        private final ArrayNode items = PyJson.MAPPER.createArrayNode();
        private ObjectNode open;
        private final StringBuilder openText = new StringBuilder();
        private int sequence;

        Output(String id, long created, JsonNode request, OutputStream out) {
            this.id = id;
            this.created = created;
            this.request = request;
            this.out = out;
        }

        void accept(ChatTurn.Delta d) throws IOException {
            if (d.reasoning() != null) {
                if (!isOpen("reasoning")) {
                    close();
                    openItem(PyJson.MAPPER.createObjectNode().put("type", "reasoning").put("id", "rs_" + Ids.hex(24)));
                    open.putArray("summary");
                    open.putArray("content");
                }
                openText.append(d.reasoning());
                event("response.reasoning_text.delta", itemRef().put("content_index", 0).put("delta", d.reasoning()));
            } else if (d.content() != null) {
                if (!isOpen("message")) {
                    close();
                    openItem(PyJson.MAPPER.createObjectNode().put("type", "message").put("id", "msg_" + Ids.hex(24))
                            .put("status", "in_progress").put("role", "assistant"));
                    open.putArray("content");
                    ObjectNode part = itemRef().put("content_index", 0);
                    part.set("part", textPart(""));
                    event("response.content_part.added", part);
                }
                openText.append(d.content());
                ObjectNode e = itemRef().put("content_index", 0).put("delta", d.content());
                e.putArray("logprobs");
                event("response.output_text.delta", e);
            } else if (d.toolStart() != null) {
                close();
                openItem(PyJson.MAPPER.createObjectNode().put("type", "function_call").put("id", "fc_" + Ids.hex(24))
                        .put("call_id", d.toolStart().id()).put("name", d.toolStart().name()).put("arguments", "").put("status", "in_progress"));
            } else {
                openText.append(d.toolArgs().fragment());
                event("response.function_call_arguments.delta", itemRef().put("delta", d.toolArgs().fragment()));
            }
        }

        private boolean isOpen(String type) { return open != null && open.path("type").asText().equals(type); }

        private void openItem(ObjectNode item) throws IOException {
            open = item;
            openText.setLength(0);
            ObjectNode e = PyJson.MAPPER.createObjectNode().put("output_index", items.size());
            e.set("item", item.deepCopy());
            event("response.output_item.added", e);
        }

        private ObjectNode itemRef() {
            return PyJson.MAPPER.createObjectNode().put("item_id", open.path("id").asText()).put("output_index", items.size());
        }

        /** Completes the open item: its final text goes in, a done event goes out. */
        private void close() throws IOException {
            if (open == null) return;
            String text = openText.toString();
            switch (open.path("type").asText()) {
                case "reasoning" -> {
                    ((ArrayNode) open.get("content")).addObject().put("type", "reasoning_text").put("text", text);
                    event("response.reasoning_text.done", itemRef().put("content_index", 0).put("text", text));
                }
                case "message" -> {
                    ((ArrayNode) open.get("content")).add(textPart(text));
                    open.put("status", "completed");
                    event("response.output_text.done", itemRef().put("content_index", 0).put("text", text));
                    ObjectNode part = itemRef().put("content_index", 0);
                    part.set("part", textPart(text));
                    event("response.content_part.done", part);
                }
                default -> {
                    open.put("arguments", text).put("status", "completed");
                    event("response.function_call_arguments.done", itemRef().put("name", open.path("name").asText()).put("arguments", text));
                }
            }
            ObjectNode e = PyJson.MAPPER.createObjectNode().put("output_index", items.size());
            e.set("item", open);
            event("response.output_item.done", e);
            items.add(open);
            open = null;
        }

        private ObjectNode textPart(String text) {
            ObjectNode p = PyJson.MAPPER.createObjectNode().put("type", "output_text").put("text", text);
            p.putArray("annotations");
            return p;
        }

        ObjectNode finish(Generator.Result res, ChatTurn turn) throws IOException {
            if (turn.parseError() != null && turn.content().isEmpty() && items.isEmpty() && open == null) {
                accept(new ChatTurn.Delta(null, res.text(), null, null)); // malformed DSML: the text as a message
            }
            close();
            boolean complete = res.finish() != Generator.Finish.LENGTH;
            ObjectNode o = response(complete ? "completed" : "incomplete");
            if (!complete) o.putObject("incomplete_details").put("reason", "max_output_tokens");
            o.set("output", items);
            ObjectNode u = o.putObject("usage").put("input_tokens", res.promptTokens());
            u.putObject("input_tokens_details").put("cached_tokens", res.cachedTokens());
            u.put("output_tokens", res.completionTokens());
            int reasoningTokens = turn.reasoning().isEmpty() ? 0 : server.engine().tokenizer().encodeText(turn.reasoning()).length;
            u.putObject("output_tokens_details").put("reasoning_tokens", Math.min(reasoningTokens, res.completionTokens()));
            u.put("total_tokens", res.promptTokens() + res.completionTokens());
            return o;
        }

        ObjectNode response(String status) {
            ObjectNode o = PyJson.MAPPER.createObjectNode().put("id", id).put("object", "response").put("created_at", created)
                    .put("status", status).put("model", server.modelId());
            o.putNull("error");
            o.putNull("incomplete_details");
            if (request.path("instructions").isTextual()) o.put("instructions", request.get("instructions").textValue()); else o.putNull("instructions");
            o.putArray("output");
            o.put("parallel_tool_calls", true);
            o.set("tool_choice", request.hasNonNull("tool_choice") ? request.get("tool_choice") : PyJson.MAPPER.getNodeFactory().textNode("auto"));
            o.set("tools", request.hasNonNull("tools") ? request.get("tools") : PyJson.MAPPER.createArrayNode());
            o.put("temperature", request.path("temperature").asDouble(1.0)).put("top_p", request.path("top_p").asDouble(1.0));
            o.putObject("metadata");
            o.putNull("usage");
            return o;
        }

        void event(String type, ObjectNode data) throws IOException {
            if (out == null) return;
            ObjectNode e = PyJson.MAPPER.createObjectNode().put("type", type).put("sequence_number", sequence++);
            e.setAll(data);
            out.write(("event: " + type + "\ndata: " + PyJson.MAPPER.writeValueAsString(e) + "\n\n").getBytes(StandardCharsets.UTF_8));
            out.flush();
        }
    }
}
