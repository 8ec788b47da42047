// Entry point wired by the service stack (bundling, environment, permissions are final).
// Its behaviour is built in the data-plane issue #4; until then it refuses to run
// rather than pretend to succeed.
export const handler = async (): Promise<never> => {
  throw new Error(
    'order-consumer is not implemented yet (issue #4): refusing to acknowledge input',
  );
};
