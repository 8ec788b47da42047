#!/usr/bin/env node
import { App } from 'aws-cdk-lib';
import { loadStageConfig } from '../lib/config/stage-config';
import { buildPipeline } from '../lib/pipeline';

const app = new App();
buildPipeline(app, loadStageConfig(app.node.tryGetContext('stage')));
