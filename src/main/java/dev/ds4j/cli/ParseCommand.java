package dev.ds4j.cli;

import dev.ds4j.chat.CompletionParser;
import dev.ds4j.chat.ParsedCompletion;
import dev.ds4j.chat.PyJson;
import dev.ds4j.chat.RenderOptions;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

import java.util.concurrent.Callable;

@Command(name = "parse", mixinStandardHelpOptions = true,
        description = {"Parses a raw DeepSeek-V4 completion (special tokens as text, final <｜end▁of▁sentence｜> included) "
                + "into {\"reasoning_content\", \"content\", \"tool_calls\"} JSON on stdout.",
                "Malformed output (missing </think> or EOS, broken DSML) is an error naming the character offset; exit code 2."})
final class ParseCommand implements Callable<Integer> {
    @Parameters(index = "0", paramLabel = "FILE", description = "completion text, read exactly as is (- for stdin)")
    String file;

    @Option(names = "--thinking-mode", required = true, paramLabel = "chat|thinking",
            description = "thinking: the prompt ended with <think>, so the text starts with reasoning; chat: it ended with </think>")
    String thinkingMode;

    @Override
    public Integer call() throws Exception {
        RenderOptions.ThinkingMode mode = RenderOptions.ThinkingMode.parse(thinkingMode, "--thinking-mode");
        ParsedCompletion parsed = CompletionParser.parse(Inputs.readUtf8(file), mode);
        for (int i = 0; i < parsed.toolCalls().size(); i++)
            if (!parsed.toolCalls().get(i).argumentsValidJson())
                System.err.println("ds4j: warning: tool_calls[" + i + "].function.arguments is not valid JSON "
                        + "(a string=\"false\" value is passed through verbatim, as the official parser does)");
        Inputs.stdout().println(PyJson.MAPPER.writeValueAsString(parsed.toJson()));
        return 0;
    }
}
