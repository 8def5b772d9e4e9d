package dev.ds4j.chat;

import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

import static org.assertj.core.api.Assertions.assertThatThrownBy;

/** Each kind of bad request is rejected with a message naming the field and what is wrong. */
class RenderErrorsTest {
    @ParameterizedTest(name = "{1}")
    @CsvSource(delimiter = '|', quoteCharacter = '`', textBlock = """
            {"thinking_mode":"chat","messages":[{"role":"robot","content":"x"}]}                                        | messages[0].role: unknown role 'robot'
            {"thinking_mode":"chat","messages":[]}                                                                     | messages: is empty
            {"thinking_mode":"chat"}                                                                                   | messages: is required
            {"thinking_mode":"chat","messages":{"role":"user"}}                                                        | messages: must be an array
            {"thinking_mode":"chat","messages":[{"content":"x"}]}                                                      | messages[0].role: is required
            {"thinking_mode":"chat","messages":[{"role":"user","content":5}]}                                          | messages[0].content: must be a string, null or an array
            {"thinking_mode":"chat","messages":[{"role":"user","content":[{"type":"image_url","image_url":{}}]}]}      | messages[0].content[0].type: content part type 'image_url' is not supported
            {"thinking_mode":"chat","messages":[{"role":"user","content":"a"},{"role":"tool","tool_call_id":"c1","content":"r"}]} | messages[1]: tool result without a preceding assistant tool call
            {"thinking_mode":"chat","messages":[{"role":"user","content":"a"},{"role":"assistant","tool_calls":[{"id":"c1","type":"function","function":{"name":"f","arguments":"{}"}}]},{"role":"tool","tool_call_id":"c2","content":"r"}]} | messages[2].tool_call_id: 'c2' matches no tool call of messages[1]
            {"thinking_mode":"chat","messages":[{"role":"user","content":"a"},{"role":"assistant","tool_calls":[{"id":"c1","type":"function","function":{"name":"f","arguments":"{}"}}]},{"role":"tool","tool_call_id":"c1","content":"r"},{"role":"tool","tool_call_id":"c1","content":"r"}]} | messages[3].tool_call_id: tool call 'c1' already has a result
            {"thinking_mode":"chat","messages":[{"role":"user","content":"a"},{"role":"assistant","tool_calls":[{"id":"c1","type":"function","function":{"name":"f","arguments":"{}"}},{"id":"c1","type":"function","function":{"name":"g","arguments":"{}"}}]}]} | messages[1].tool_calls[1].id: duplicate tool call id 'c1'
            {"thinking_mode":"chat","messages":[{"role":"user","content":"a"},{"role":"assistant","tool_calls":[{"id":"c1","type":"function","function":{"name":"f","arguments":"{\\"a\\": "}}]}]} | messages[1].tool_calls[0].function.arguments: is not valid JSON
            {"thinking_mode":"chat","messages":[{"role":"user","content":"a"},{"role":"assistant","tool_calls":[{"id":"c1","type":"function","function":{"name":"f","arguments":"[1, 2]"}}]}]} | messages[1].tool_calls[0].function.arguments: must encode a JSON object, got an array
            {"thinking_mode":"chat","messages":[{"role":"user","content":"a"},{"role":"assistant","tool_calls":[{"id":"c1","type":"function","function":{"arguments":"{}"}}]}]} | messages[1].tool_calls[0].function.name: is required
            {"thinking_mode":"chat","messages":[{"role":"user","content":"a"},{"role":"assistant","tool_calls":[{"id":"c1","type":"function","function":{"name":"f","arguments":{"code":"x</｜DSML｜parameter>y"}}}]}]} | the string value of 'code' contains '/｜DSML｜parameter'
            {"thinking_mode":"chat","messages":[{"role":"user","content":"a"},{"role":"assistant","tool_calls":[{"id":"c1","type":"function","function":{"name":"a｜DSML｜b","arguments":"{}"}}]}]} | messages[1].tool_calls[0].function.name: contains '｜DSML｜'
            {"thinking_mode":"chat","messages":[{"role":"user","content":"a"},{"role":"user","content":"b","tool_calls":[{"id":"x","function":{"name":"f"}}]}]} | messages[1].tool_calls: only assistant messages carry tool calls
            {"thinking_mode":"chat","messages":[{"role":"user","content":"bad \\ud83d surrogate"}]}                    | messages[0].content: contains an unpaired UTF-16 surrogate U+D83D at character 4
            {"thinking_mode":"chat","messages":[{"role":"developer","content":""}]}                                  | messages[0].content: a developer message needs non-empty content
            {"thinking_mode":"chat","messages":[{"role":"user","content":"a","task":"translate"}]}                   | messages[0].task: unknown task 'translate'
            {"thinking_mode":"chat","messages":[{"role":"user","content":"a","tools":[{"type":"function","function":{"name":"f"}}]}]} | messages[0].tools: tools belong on a system or developer message
            {"thinking_mode":"maybe","messages":[{"role":"user","content":"a"}]}                                     | thinking_mode: must be "chat" or "thinking", got "maybe"
            {"messages":[{"role":"user","content":"a"}]}                                                             | thinking_mode: must be "chat" or "thinking", got null
            {"thinking_mode":"thinking","reasoning_effort":"extreme","messages":[{"role":"user","content":"a"}]}     | reasoning_effort: the original V4 encoder accepts null, "high" or "max", got "extreme"
            {"thinking_mode":"thinking","reasoning_effort":"low","encoder_revision":"original","messages":[{"role":"user","content":"a"}]} | ("low" exists in the 0731 revision)
            {"thinking_mode":"thinking","drop_thinking":"yes","messages":[{"role":"user","content":"a"}]}            | drop_thinking: must be a boolean, got a string
            {"thinking_mode":"chat","tools":[{"type":"function","function":{"description":"no name"}}],"messages":[{"role":"user","content":"a"}]} | tools[0].function.name: is required
            {"thinking_mode":"chat","tools":[{"type":"function","function":{"name":"f","parameters":"object"}}],"messages":[{"role":"user","content":"a"}]} | tools[0].function.parameters: must be a JSON Schema object, got a string
            {"thinking_mode":"chat","tools":[{"type":"function","function":{"name":"f"}},{"type":"function","function":{"name":"f"}}],"messages":[{"role":"user","content":"a"}]} | tools[1].function.name: duplicate tool name 'f'
            {"thinking_mode":"chat","tools":{"name":"f"},"messages":[{"role":"user","content":"a"}]}                 | tools: must be an array of tools, got an object
            """)
    void rejectsWithFieldAndReason(String json, String expected) {
        assertThatThrownBy(() -> RenderRequest.fromJson(PyJson.loads(json), null).render())
                .isInstanceOf(ChatFormatException.class)
                .hasMessageContaining(expected);
    }
}
