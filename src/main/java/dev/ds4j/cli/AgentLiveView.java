package dev.ds4j.cli;

import dev.ds4j.agent.AgentLoop;
import dev.ds4j.agent.ModelClient;
import dev.ds4j.agent.TrajectoryRecord;
import dev.ds4j.chat.ParsedCompletion;

import java.io.PrintStream;

/**
 * What {@code ds4j agent} shows on stderr while it works: each model turn (reasoning, text, tool calls, token
 * counts and time), each tool call as it starts and its result as the model will read it. On a terminal the
 * model's text is also streamed as it is generated (faint), so a slow turn is visibly alive.
 *
 * <p>Lines are prefixed with a tag in brackets so the view stays greppable when stderr goes to a file.
 */
final class AgentLiveView implements AgentLoop.Listener {
    private static final int EXCERPT = 400;

    private final PrintStream err;
    private final boolean colored;
    private boolean streaming;

    AgentLiveView(PrintStream err, boolean colored) {
        this.err = err;
        this.colored = colored;
    }

    /** The sink for streamed text (only used on a colour terminal: raw DSML in a log file is noise). */
    void streamed(String text) {
        if (!colored) return;
        if (!streaming) {
            err.print(Ansi.FAINT);
            streaming = true;
        }
        err.print(text);
        err.flush();
    }

    private void endStream() {
        if (streaming) {
            err.println(Ansi.RESET);
            streaming = false;
        }
    }

    private String bold(String s) { return colored ? Ansi.BOLD + s + Ansi.RESET : s; }

    @Override
    public void stepStarted(int step) {
        err.println(bold("[step " + step + "]"));
    }

    @Override
    public void stepFinished(int step, ModelClient.Completion c, long millis) {
        endStream();
        ParsedCompletion p = c.parsed();
        if (p.reasoningContent() != null && !p.reasoningContent().isBlank())
            err.println("  [reasoning] " + excerpt(p.reasoningContent(), EXCERPT));
        if (p.content() != null && !p.content().isBlank()) err.println("  [text] " + excerpt(p.content(), EXCERPT));
        for (ParsedCompletion.ToolCall tc : p.toolCalls())
            err.println("  [call] " + tc.name() + " " + excerpt(tc.arguments(), EXCERPT));
        String reused = c.cachedPromptTokens() > 0 ? " (" + c.cachedPromptTokens() + " reused)" : "";
        err.printf("  [tokens] %d prompt%s + %d completion%s, %.1f s%n", c.promptTokens(), reused, c.completionTokens(),
                c.truncated() ? " (cut off)" : "", millis / 1000.0);
    }

    @Override
    public void toolStarted(TrajectoryRecord.ToolCall call, boolean fromLog) {
        if (!fromLog) err.println("  [run " + call.id() + "] " + call.name());
    }

    @Override
    public void toolFinished(TrajectoryRecord.ToolCall call, String result, boolean ok, boolean fromLog, long millis) {
        String how = fromLog ? "from the log" : String.format("%s, %.1f s", ok ? "ok" : "failed", millis / 1000.0);
        err.println("  [result " + call.id() + ", " + how + "] " + excerpt(result, EXCERPT));
    }

    static String excerpt(String s, int max) {
        if (s == null) return "";
        String one = s.strip().replace("\n", "\\n");
        return one.length() <= max ? one : one.substring(0, max) + "… (" + one.length() + " chars)";
    }
}
