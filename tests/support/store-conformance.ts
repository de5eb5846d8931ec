// The suite itself is exported as `conveyor/testing` (testing/); tests import its job maker here.
export { newJob } from "../../testing/mod.ts";
