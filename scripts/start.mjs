// Placeholder until the control-plane and helper issues land `npm start` proper.
console.log('trellis: nothing to start yet');
