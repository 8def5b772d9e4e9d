package dev.ds4j.chat;

/**
 * A request or completion that the DeepSeek-V4 chat protocol cannot represent or parse. The message
 * names the place ({@code messages[3].tool_calls[0].function.arguments}, or an offset in a completion)
 * and what is wrong; it extends {@link IllegalArgumentException} so callers treat it as bad input.
 */
public class ChatFormatException extends IllegalArgumentException {
    public ChatFormatException(String message) { super(message); }
}
