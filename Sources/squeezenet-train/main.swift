import NeuralNet
let net = SqueezeNet.make(.v1_0, classes: 1000, inputSize: 224, batch: 1)
print(net.parameterCount)
let net2 = SqueezeNet.make(.v1_1, classes: 1000, inputSize: 224, batch: 1)
print(net2.parameterCount)
